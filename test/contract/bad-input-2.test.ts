/** Bad input for every route, shard 2 of 3: the suite and what it checks are in bad-input.suite.ts. */
import { badInputSuite } from './bad-input.suite.ts';

badInputSuite(1, 3);
