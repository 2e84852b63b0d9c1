import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { sha256Hex } from '../util/canonical-json.js';

/**
 * Berth's own image: `FROM scratch` plus a static busybox, a non-root `agent` user (uid 1000) and
 * /configs and /workspace owned by it (so fresh volumes inherit that ownership). It builds offline
 * in about a second and doubles as Berth's helper image.
 */
const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
COPY etc/ /etc/
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && mkdir -p /configs /workspace /home/agent /tmp /root && chown 1000:1000 /configs /workspace /home/agent && chmod 1777 /tmp && chmod 700 /root"]
ENV PATH=/bin HOME=/home/agent
USER 1000:1000
WORKDIR /workspace
CMD ["sleep", "infinity"]
`;

const PASSWD =
  'root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1000:agent:/home/agent:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
const GROUP = 'root:x:0:\nagent:x:1000:\nnogroup:x:65534:\n';

/** Identifies the recipe; the image carries it so a changed recipe is rebuilt. */
export const SHELL_RECIPE_HASH = sha256Hex(DOCKERFILE + PASSWD + GROUP).slice(0, 16);

export function shellBuildContext(busyboxPath: string): Readable {
  const pack = tar.pack();
  const add = (name: string, content: Buffer | string, mode = 0o644): void => {
    pack.entry({ name, mode, mtime: new Date(0) }, content);
  };
  add('Dockerfile', DOCKERFILE);
  add('busybox', readFileSync(busyboxPath), 0o755);
  add('etc/passwd', PASSWD);
  add('etc/group', GROUP);
  pack.finalize();
  return Readable.from(pack);
}
