import { writeRouteFaults } from '#test/faults/write-routes.suite.ts';

writeRouteFaults(0, 3);
