/** The message of anything a `catch` receives: an Error's message, else its string form (a thrown string, a number). */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
