// Compile-time checks against the real e2b SDK's types (its cloud is out of reach, its types are
// not): the sandbox adapter takes e2b's Sandbox class as it is and hands back e2b's own types.
import { Sandbox, type CommandResult } from 'e2b'
import { sandbox, type SandboxPool } from '../../src/index.ts'

export async function usesTheRealSdkTypes(): Promise<void> {
  const sandboxes: SandboxPool<Sandbox> = sandbox(Sandbox, { name: 'e2b', executeTimeout: '10s' })
  const box: Sandbox = await sandboxes.create('base')
  const result: CommandResult = await sandboxes.execute(box.sandboxId, 'echo hi')
  const exitCode: number = result.exitCode
  void exitCode
  await sandboxes.stop(box.sandboxId)
  // @ts-expect-error: not a sandbox class
  sandbox({ create: 42 })
}
