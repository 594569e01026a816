/** Bad input for every route, shard 1 of 3: the suite and what it checks are in bad-input.suite.ts. */
import { badInputSuite } from './bad-input.suite.ts';

badInputSuite(0, 3);
