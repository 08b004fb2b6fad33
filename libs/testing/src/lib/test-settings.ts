/**
 * MIN_FREE_DISK of the services tests start (in process and as processes): small, so that a machine whose disk
 * has less than the default 1 GiB free does not pause every test. A test of the pause sets its own.
 */
export const TEST_MIN_FREE_DISK = '16MiB';
