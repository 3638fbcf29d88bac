// The package's entry point: every generated function and type, and the shared client.
export * from './generated';
export { client } from './generated/client.gen';
