import { jobFaults } from '#test/faults/jobs.suite.ts';

jobFaults(1, 2);
