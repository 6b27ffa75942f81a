// @ts-check
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

// The project service refuses `**` here, so list the depths in use.
const TYPED_OUTSIDE_BUILD = [
  '*.ts',
  'test/*.ts',
  'test/*/*.ts',
  'bench/*.ts',
  'bench/*/*.ts',
  'scripts/*.ts',
  'scripts/*/*.ts',
  'src/*.test.ts',
  'src/*/*.test.ts',
  'src/*/*/*.test.ts',
  'src/*/*/*/*.test.ts',
];

export default defineConfig(
  globalIgnores(['dist/', '.test-dist/', 'node_modules/', 'data/', 'coverage/', '.tmp/']),

  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      parserOptions: {
        // tsconfig.json (the build) excludes tests; they and the root *.ts files are typed by
        // tsconfig.check.json, which the project service uses for files no tsconfig.json owns.
        projectService: {
          allowDefaultProject: TYPED_OUTSIDE_BUILD,
          defaultProject: 'tsconfig.check.json',
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 200,
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // Express 5 awaits async handlers (a rejection reaches the error middleware) and its
      // types declare handlers as returning `unknown`, so `router.get(path, async (req, res) => …)`
      // passes with the default options while `setInterval(async …)` or `emitter.on(…, async …)`,
      // whose rejections nobody handles, are still reported.
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      eqeqeq: ['error', 'always'],
      'no-console': 'error',
    },
  },

  {
    // Response bodies from supertest are `any`; asserting on them is the point of the tests.
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },

  {
    // No fixed sleeps in tests: a sleep is either too short on a loaded machine (a flake) or too
    // long everywhere else. Wait for a condition with a deadline (test/wait.ts) or inject a clock.
    // Timers belong in the helpers under test/, which poll with a deadline.
    files: ['**/*.test.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'CallExpression[callee.name=/^(setTimeout|setInterval|sleep|delay|pause)$/]',
          message: 'No fixed sleeps or timers in tests: wait for a condition with a deadline (test/wait.ts) or inject a clock.',
        },
        {
          selector: 'CallExpression[callee.property.name=/^(setTimeout|setInterval)$/]',
          message: 'No fixed sleeps or timers in tests: wait for a condition with a deadline (test/wait.ts) or inject a clock.',
        },
      ],
    },
  },

  {
    // Plain JavaScript config files are outside every tsconfig: lint them without type information.
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
