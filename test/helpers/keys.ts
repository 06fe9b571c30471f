// Shared with the bench and the go-live checks, which must not import test/.
export * from '../../scripts/lib/jwt-keys';
