/** The token of an `Authorization: Bearer <token>` header (visible ASCII, at most 512), or null. */
export function bearerToken(authorization: string | undefined): string | null {
  const match = /^Bearer ([\x21-\x7e]{1,512})$/.exec(authorization ?? '');
  return match?.[1] ?? null;
}
