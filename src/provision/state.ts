/**
 * Which provisioning steps are done on which node: `.devcluster/<cluster>/provision.json`, rewritten
 * atomically after every step, so a run that failed (or was stopped) resumes at the step that did
 * not finish.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { DevclusterError } from '../errors.js';
import { atomicWrite } from '../fs/atomic-write.js';
import { stateLayout } from '../state/layout.js';

const record = z.object({
  startedAt: z.string(),
  finishedAt: z.string(),
  durationMs: z.number(),
  /** The node's host key fingerprint when the step ran: a rebuilt node starts from scratch. */
  nodeId: z.string(),
});
export type StepRecord = z.infer<typeof record>;

const fileSchema = z.object({ version: z.literal(1), done: z.record(z.string(), record) });

export function provisionFile(stateDir: string): string {
  return stateLayout(stateDir).provision;
}

export const recordKey = (node: string, step: string): string => `${node}/${step}`;

export class ProvisionState {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: string,
    readonly done: Map<string, StepRecord>,
  ) {}

  static async load(stateDir: string): Promise<ProvisionState> {
    const file = provisionFile(stateDir);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new ProvisionState(file, new Map());
      throw error;
    }
    const parsed = fileSchema.safeParse(JSON.parse(text));
    if (!parsed.success) {
      throw new DevclusterError('STATE_INVALID', `${file} is not a provisioning record devcluster can read`, {
        hint: `remove it to provision every step again (\`rm ${file}\`)`,
      });
    }
    return new ProvisionState(file, new Map(Object.entries(parsed.data.done)));
  }

  isDone(node: string, step: string, nodeId: string): boolean {
    return this.done.get(recordKey(node, step))?.nodeId === nodeId;
  }

  markDone(node: string, step: string, entry: StepRecord): Promise<void> {
    this.done.set(recordKey(node, step), entry);
    return this.save();
  }

  /** Forget steps, so they run again. */
  forget(match: (node: string, step: string) => boolean): Promise<void> {
    for (const key of [...this.done.keys()]) {
      const [node, step] = key.split('/') as [string, string];
      if (match(node, step)) this.done.delete(key);
    }
    return this.save();
  }

  /** Writes are queued: parallel steps finishing together never interleave their writes. */
  private save(): Promise<void> {
    const snapshot = JSON.stringify({ version: 1, done: Object.fromEntries(this.done) }, null, 2);
    this.writing = this.writing.then(() => atomicWrite(this.file, `${snapshot}\n`, 0o600));
    return this.writing;
  }
}
