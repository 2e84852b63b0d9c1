import type { SystemInfo } from '@berth/protocol';
import type { HealthStatus } from '@berth/sdk';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { renderKeyValues } from '../format/table.js';

/** The `berth system` view. */
export function renderSystem(url: string, info: SystemInfo, health: HealthStatus): string {
  const engine = info.engine;
  const pairs: [string, string][] = [
    ['Server', `${url} (version ${info.version})`],
    ['Health', health.status],
    ['Platform URL', info.platformUrl],
  ];
  if (engine === null) {
    pairs.push(['Engine', info.engineHealthy ? 'healthy (no details)' : 'unavailable']);
  } else {
    const caps = Object.entries(engine.capabilities)
      .map(([name, on]) => `${name}${on ? '' : ' (no)'}`)
      .join(', ');
    pairs.push(
      [
        'Engine',
        `${engine.kind} ${engine.version} (API ${engine.apiVersion}), ${info.engineHealthy ? 'healthy' : 'unhealthy'}`,
      ],
      ['Host', `${engine.os}/${engine.arch}, kernel ${engine.kernel}, cgroup ${engine.cgroupVersion}`],
      ['OCI runtimes', `${engine.ociRuntimes.join(', ')} (default ${engine.defaultRuntime})`],
      ['Capabilities', caps],
      ['Security', engine.securityOptions.length > 0 ? engine.securityOptions.join(', ') : '-'],
    );
  }
  pairs.push([
    'Tiers',
    `privileged tiers (3, 4) ${info.tiers.allowPrivileged ? 'allowed' : 'not allowed'}; gVisor ${info.tiers.gvisor}`,
  ]);
  return renderKeyValues(pairs);
}

export function registerSystem(program: Command, ctx: CliContext): void {
  program
    .command('system')
    .description('Show server version and health, engine facts and tier policy')
    .action(async () => {
      const berth = ctx.client();
      const [health, info] = await Promise.all([
        berth.system.health({ signal: ctx.signal }),
        berth.system.info({ signal: ctx.signal }),
      ]);
      ctx.result({ info, health }, () => renderSystem(berth.url, info, health));
    });
}
