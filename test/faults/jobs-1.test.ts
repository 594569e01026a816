import { jobFaults } from '#test/faults/jobs.suite.ts';

jobFaults(0, 2);
