export type { CliIo } from './command.js';
export { main } from './main.js';
