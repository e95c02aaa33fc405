package org.ntk4j.cli;

/**
 * The line a command prints when the JVM is stopped while it runs (SIGTERM or Ctrl-C run the JVM's shutdown hooks),
 * saying what its files keep: {@link TiledRun.Interruption} (the tiles of a kernel file) and
 * {@link PartialReport.Interruption} (the parts of a report measured in parts). The hook is registered once the
 * run's checks have passed ({@link #register}, the subclass's last step) and removed by {@link #close} when the run
 * returns or fails, so that neither a refusal nor a finished run says anything of an interruption.
 */
abstract class ShutdownLine implements AutoCloseable {
    private final Thread hook = new Thread(this::interrupted, "ntk4j-interrupted");

    /** Registers the hook; called last by the subclass's constructor, its fields set. */
    final void register() {
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** What the hook does, on the JVM's shutdown: print the line. */
    abstract void interrupted();

    /** Removes the hook: the run has returned or failed. */
    @Override
    public final void close() {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook runs (or ran) and says so
        }
    }
}
