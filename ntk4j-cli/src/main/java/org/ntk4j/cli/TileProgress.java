package org.ntk4j.cli;

import java.io.PrintWriter;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.ntk4j.io.TiledKernelRun;
import org.ntk4j.ntk.TilePlan;

/**
 * Progress of a tiled run on stderr: on a terminal a progress bar (tiles done, ETA, achieved GFLOP/s from the
 * cost model's FLOPs of the finished tiles); in a pipe one plain line at most every {@link #LINE_SECONDS}
 * seconds and at the end; nothing when quiet.
 */
final class TileProgress implements TiledKernelRun.Progress {
    static final double LINE_SECONDS = 10;

    private final TilePlan plan;
    private final PrintWriter err;
    private final ProgressBar bar;
    private final boolean quiet;
    private final long start = System.nanoTime();
    private final int total;
    private volatile int done; // volatile: read by TiledRun.Interruption's shutdown hook without the lock
    private int doneHere;
    private double flops;
    private double lastLine;

    /**
     * @param terminal true when stderr is a terminal: the bar goes to System.err
     * @param err where the plain lines go (the command's error stream)
     */
    TileProgress(TilePlan plan, int alreadyDone, boolean quiet, boolean terminal, PrintWriter err) {
        this.plan = plan;
        this.err = err;
        this.quiet = quiet;
        this.total = plan.tileCount();
        this.done = alreadyDone;
        this.bar = quiet || !terminal ? null : new ProgressBarBuilder().setTaskName("tiles").setInitialMax(total)
                .setStyle(ProgressBarStyle.ASCII).setConsumer(new ConsoleProgressBarConsumer(System.err))
                .setUpdateIntervalMillis(500).startsFrom(alreadyDone, java.time.Duration.ZERO).build();
    }

    @Override
    public synchronized void tileDone(TilePlan.Tile tile, double seconds) {
        done++;
        doneHere++;
        flops += plan.tileFlops(tile.index());
        double elapsed = (System.nanoTime() - start) / 1e9;
        if (bar != null) {
            bar.stepTo(done);
            bar.setExtraMessage(String.format(Locale.ROOT, "%.2f GFLOP/s", flops / elapsed / 1e9));
        } else if (!quiet && (elapsed - lastLine >= LINE_SECONDS || done == total)) {
            lastLine = elapsed;
            double eta = doneHere == 0 ? 0 : elapsed / doneHere * (total - done);
            err.printf(Locale.ROOT, "ntk4j: tiles %d/%d, %.1f s, ETA %.0f s, %.2f GFLOP/s%n", done, total, elapsed, eta,
                    flops / elapsed / 1e9);
            err.flush();
        }
    }

    /** The tiles done: by earlier runs and this one (read without waiting for a tile's report). */
    int done() {
        return done;
    }

    /** The plan's tiles. */
    int total() {
        return total;
    }

    /** True when the progress bar is drawn on the terminal (its line has no line break until closed). */
    boolean drawsBar() {
        return bar != null;
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
