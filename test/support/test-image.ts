/**
 * Where the test cloud image lives: built by test/image/build-test-image.sh (through
 * test/setup-host.sh, which `npm test` runs) into $DEVCLUSTER_TEST_IMAGE_DIR, default
 * ${XDG_CACHE_HOME:-~/.cache}/devcluster-test/image. Rebuilt only when its recipe changes.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const TEST_IMAGE_NAME = 'debian-12-test.qcow2';

export function testImageDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DEVCLUSTER_TEST_IMAGE_DIR) return env.DEVCLUSTER_TEST_IMAGE_DIR;
  const cache = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(env.HOME ?? homedir(), '.cache');
  return join(cache, 'devcluster-test', 'image');
}

/** The image and its SHA256SUMS; throws (failing the test, never skipping it) when they are missing. */
export function requireTestImage(): { dir: string; image: string; sums: string } {
  const dir = testImageDir();
  const image = join(dir, TEST_IMAGE_NAME);
  const sums = join(dir, 'SHA256SUMS');
  if (!existsSync(image) || !existsSync(sums)) {
    throw new Error(`test image missing in ${dir}: run \`bash test/setup-host.sh\` (npm test does)`);
  }
  return { dir, image, sums };
}
