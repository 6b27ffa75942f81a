import { describe, expect, it } from 'vitest';
import { apiKillProblems, emailFileProblems, parseArgs, serverStates, workerRole } from './checks.js';

describe('the topology command line', () => {
  it('when test is given its flags, then reads them', () => {
    expect(parseArgs(['test', '--sentinel', '--keep', '--no-components'])).toEqual({ command: 'test', variant: 'sentinel', variantGiven: true, keep: true, components: false });
    expect(parseArgs(['up'])).toEqual({ command: 'up', variant: 'cluster', variantGiven: false, keep: false, components: true });
  });

  it('when a flag is mistyped or belongs to another command, then refuses it rather than run the default variant', () => {
    expect(parseArgs(['test', '--sentinal'])).toEqual({ error: 'test does not take --sentinal' });
    expect(parseArgs(['up', '--keep'])).toEqual({ error: 'up does not take --keep' });
    expect(parseArgs(['status', '--sentinel'])).toEqual({ error: 'status does not take --sentinel' });
  });

  it('when the command is missing or unknown, then says so', () => {
    expect(parseArgs([])).toEqual({ error: 'no command given' });
    expect(parseArgs(['start'])).toEqual({ error: 'unknown command "start"' });
  });
});

describe("haproxy's stats", () => {
  const csv = [
    '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight',
    'api,FRONTEND,,,0,1,4000,3,0,0,0,0,0,,,,,OPEN,',
    'api,api1,0,0,0,1,,2,0,0,,0,,0,0,0,0,UP,1',
    'api,api2,0,0,0,1,,1,0,0,,0,,0,0,0,0,DOWN 1/2,1',
    'api,BACKEND,0,0,0,1,400,3,0,0,0,0,,0,0,0,0,UP,2',
    'postgres,pg1,0,0,0,1,,2,0,0,,0,,0,0,0,0,UP,1',
  ].join('\n');

  it('when read for one proxy, then gives each of its servers their check state and nothing of other proxies', () => {
    expect(serverStates(csv, 'api')).toEqual({ api1: 'UP', api2: 'DOWN 1/2' });
  });

  it('when the page is not the CSV, then knows no server', () => {
    expect(serverStates('<html>503</html>', 'api')).toEqual({});
  });
});

describe("a worker's role", () => {
  it('when its metrics report the pool role, then names the one set to 1', () => {
    const metrics = '# HELP worker_pool_role x\nworker_pool_role{role="standby"} 0\nworker_pool_role{role="leader"} 1\nworker_pool_role{role="helper"} 0\n';
    expect(workerRole(metrics)).toBe('leader');
    expect(workerRole('up 1\n')).toBeUndefined();
  });
});

describe('what killing an API under load may cost', () => {
  const killedAt = 10_000;

  it('when only the in-flight attempts failed, then nothing is wrong', () => {
    expect(apiKillProblems([[killedAt + 1, 0], [killedAt + 5, 502], [killedAt + 9, 0], [killedAt + 9, 0]], killedAt, 4)).toEqual([]);
  });

  it('when more attempts failed than were in flight, then haproxy kept sending to the dead instance', () => {
    const failures = Array.from({ length: 12 }, (_, i) => [killedAt + i * 300, 503] as const);
    expect(apiKillProblems(failures, killedAt, 4)).toEqual(['12 attempts failed after the kill, more than the 4 in flight (haproxy sent new requests to the dead instance)']);
  });

  it('when an attempt failed before the kill, then that is reported on its own', () => {
    expect(apiKillProblems([[killedAt - 1, 500]], killedAt, 4)).toEqual(['1 attempts failed before the kill']);
  });
});

describe('the mail folder against the sent emails', () => {
  const sent = ['<order_confirmation.a@example.com>', '<order_failure.b@example.com>'];

  it('when every sent email has its own file, then nothing is wrong', () => {
    expect(emailFileProblems(sent, ['order_confirmation.a@example.com.eml', 'order_failure.b@example.com.eml', '.partial-1-1'])).toEqual([]);
  });

  it('when a file is missing and a stray one makes the count right, then both are reported', () => {
    expect(emailFileProblems(sent, ['order_confirmation.a@example.com.eml', 'order_confirmation.c@example.com.eml'])).toEqual([
      '1 sent emails without their .eml file (first order_failure.b@example.com.eml)',
      '1 .eml files for no sent email (first order_confirmation.c@example.com.eml)',
    ]);
  });
});
