// Shared with the bench, which must not import test/.
export * from '../../scripts/lib/ports';
