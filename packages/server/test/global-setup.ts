import Docker from 'dockerode';

/**
 * Engine tests need a real container engine. scripts/test.sh (and CI) installs and starts one when
 * the machine allows; here we only refuse to run silently without one.
 */
export default async function setup(): Promise<void> {
  const host = process.env.DOCKER_HOST;
  const docker = host?.startsWith('unix://')
    ? new Docker({ socketPath: host.slice('unix://'.length) })
    : new Docker();
  try {
    await docker.ping();
  } catch (err) {
    throw new Error(
      `engine tests need a Docker-compatible engine at ${host ?? 'unix:///var/run/docker.sock'} (${err instanceof Error ? err.message : String(err)}); run scripts/setup.sh, or run only the unit tests with npm run test:unit`,
      { cause: err },
    );
  }
}
