// The authentication methods pgaf writes into pg_hba.conf and hands to initdb (--auth): the
// one list, and the type every config, command and plan uses.
export const AUTH_METHODS = ['trust', 'md5', 'scram-sha-256'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];
