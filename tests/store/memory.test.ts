/** The memory store passes the store contract. */
import { createMemoryStore } from '../../src/store/memory.ts';
import { storeContract } from './contract.ts';

storeContract('memory', () => createMemoryStore());
