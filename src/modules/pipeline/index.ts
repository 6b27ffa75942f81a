export { pipelineRoutes } from './pipeline.routes.js';
export { createPipelineService, type PipelineService } from './pipeline.service.js';
export { pipelineQuery, pipelineSnapshot } from './pipeline.schemas.js';
