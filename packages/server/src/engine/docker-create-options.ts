import type { ContainerCreateOptions, MountSettings } from 'dockerode';
import type { ContainerPlan } from './types.js';

/** Maps a ContainerPlan onto a Docker Engine API create body (also accepted by Podman). Pure. */
export function toDockerCreateOptions(plan: ContainerPlan): ContainerCreateOptions {
  const exposed = Object.fromEntries(plan.publishPorts.map((p) => [`${p}/tcp`, {}]));
  const bindings = Object.fromEntries(
    plan.publishPorts.map((p) => [`${p}/tcp`, [{ HostIp: '127.0.0.1', HostPort: '' }]]),
  );
  const networkMode =
    plan.network.mode === 'network' ? plan.network.name : plan.network.mode === 'host' ? 'host' : 'none';
  return {
    name: plan.name,
    Image: plan.image,
    ...(plan.user ? { User: plan.user } : {}),
    Env: plan.env,
    ...(plan.cmd ? { Cmd: plan.cmd } : {}),
    ...(plan.entrypoint ? { Entrypoint: plan.entrypoint } : {}),
    ...(plan.workingDir ? { WorkingDir: plan.workingDir } : {}),
    Labels: plan.labels,
    ExposedPorts: exposed,
    HostConfig: {
      Mounts: plan.mounts.map((m) => ({
        Type: m.type,
        Source: m.source,
        Target: m.target,
        ReadOnly: m.readOnly,
        ...(m.type === 'bind' ? { BindOptions: { Propagation: 'rprivate' } } : {}),
        // @types/dockerode marks Labels and DriverConfig required; the Engine API does not.
        ...(m.type === 'volume' && m.noCopy
          ? { VolumeOptions: { NoCopy: true } as MountSettings['VolumeOptions'] }
          : {}),
      })),
      Tmpfs: plan.tmpfs,
      ReadonlyRootfs: plan.readOnlyRootfs,
      CapDrop: plan.capDrop,
      CapAdd: plan.capAdd,
      SecurityOpt: [
        ...(plan.noNewPrivileges ? ['no-new-privileges:true'] : []),
        ...(plan.seccompProfile ? [`seccomp=${plan.seccompProfile}`] : []),
      ],
      Privileged: plan.privileged,
      ...(plan.pidModeHost ? { PidMode: 'host' } : {}),
      IpcMode: plan.pidModeHost ? 'host' : 'private',
      NetworkMode: networkMode,
      PortBindings: bindings,
      PublishAllPorts: false,
      Memory: plan.memoryBytes,
      MemorySwap: plan.memoryBytes,
      NanoCpus: plan.nanoCpus,
      PidsLimit: plan.pidsLimit,
      Ulimits: plan.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
      Init: plan.init,
      ...(plan.ociRuntime ? { Runtime: plan.ociRuntime } : {}),
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      LogConfig: {
        Type: 'json-file',
        Config: { 'max-size': plan.logMaxSize, 'max-file': String(plan.logMaxFiles) },
      },
    },
  };
}
