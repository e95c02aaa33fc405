package org.ntk4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import org.ntk4j.io.ExistingOutput;
import org.ntk4j.io.Npy;
import org.ntk4j.io.NpyHeader;
import org.ntk4j.io.TileStore;
import org.ntk4j.io.TiledKernelRun;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.ClusterTiles;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * {@code ntk4j kernel --out OUT}: the options of the command as a {@link TiledKernelRun.Request}, the run's plan,
 * progress (on stderr) and figures printed, and its report written. The workflow itself (claiming OUT, planning,
 * resuming, the stores, local or cluster tiles) is {@link TiledKernelRun}'s.
 */
final class TiledRun {
    private final KernelCommand cmd;
    private final Model net;
    private final Params params;
    private final Tensor x1;
    private final Tensor x2;
    private final KernelKind kind;
    private final Method method;
    private final long budget;
    /** Whether this run wrote --params-out (deleted again with a run that cannot finish, or did not start). */
    private boolean paramsWritten;
    /** Whether the run's files were created or resumed and its tiles began (the progress was asked for). */
    private boolean tilesStarted;
    /** Whether --report was written (once the kernel was finished, before its manifests were removed). */
    private boolean reportWritten;

    TiledRun(KernelCommand cmd, Model net, Params params, Tensor x1, Tensor x2, KernelKind kind, Method method,
             long budget) {
        this.cmd = cmd;
        this.net = net;
        this.params = params;
        this.x1 = x1;
        this.x2 = x2;
        this.kind = kind;
        this.method = method;
        this.budget = budget;
    }

    /** Before any work: claims OUT (and SEM) as {@link TiledKernelRun#claim} does, with the command's options. */
    static TiledKernelRun.Claim claim(KernelCommand cmd, Method requested) throws IOException {
        return TiledKernelRun.claim(cmd.out, cmd.sem, existing(cmd), requested, cmd.tile,
                cmd.ensemble == null ? 0 : cmd.ensemble);
    }

    /**
     * What {@code --resume} and {@code --overwrite} say of OUT and its unfinished run: {@code --resume} resumes it
     * with or without {@code --overwrite} (which then lets the command's other outputs, --params-out and --report,
     * be replaced: {@link OverwriteOption}); {@code --overwrite} alone discards it; neither refuses it.
     */
    static ExistingOutput existing(KernelCommand cmd) {
        return cmd.resume ? ExistingOutput.RESUME
                : cmd.overwrite.overwrite ? ExistingOutput.OVERWRITE : ExistingOutput.REFUSE;
    }

    /** {@code --threads} of a tiled run: the number given, at least 1, or the machine's cores. */
    static int threads(Integer asked) {
        int threads = asked == null ? Runtime.getRuntime().availableProcessors() : asked;
        if (threads < 1) {
            throw new IllegalArgumentException("--threads: expected a positive number, got " + threads);
        }
        return threads;
    }

    /** {@code --tile} of a tiled run: at least 1 example. */
    static int tileOption(int tile) {
        if (tile < 1) {
            throw new IllegalArgumentException("--tile must be at least 1, got " + tile);
        }
        return tile;
    }

    /** The plan line: "kind K[, ensemble], kernel SHAPE (SIZE) in TILES…" ({@code kernel --out}, {@code explain}). */
    static String planLine(KernelKind kind, String ensemble, TilePlan plan) {
        return String.format(Locale.ROOT, "kind %s%s, kernel %s (%s) in %s", kind, ensemble, Shapes.str(plan.shape()),
                CostModel.human(plan.elements() * plan.dtype().bytes()), plan.describe());
    }

    void run(PrintWriter o, PrintWriter err) throws IOException {
        int threads = threads(cmd.threads);
        // --spark: the tiles are computed on a cluster (ntk4j-spark), the rest of the run is the same
        ClusterTiles cluster = cmd.spark == null ? null : ClusterTiles.find().orElseThrow(() ->
                new IllegalArgumentException("--spark: ntk4j-spark is not on the class path; run through the "
                        + "./ntk4j launcher (which adds it and Spark) or spark-submit the job jar "
                        + "ntk4j-spark-job/target/ntk4j-spark-*-job.jar"));
        TiledKernelRun.Request request = TiledKernelRun.Request.of(net, params, x1, x2, kind, cmd.out)
                .withMethod(method, budget).withTile(cmd.tile).withThreads(threads).withExisting(existing(cmd))
                .withEnsemble(cmd.ensemble == null ? 0 : cmd.ensemble, cmd.seed, cmd.sem)
                .withCluster(cluster, cmd.spark);
        // from here until the tiles are finished in their files or the run fails: SIGINT or SIGTERM says how to go on
        Interruption interruption = new Interruption(cmd.out, cmd.sem, err);
        TiledKernelRun.Events events = new TiledKernelRun.Events() {
            @Override
            public void planned(TilePlan plan) throws IOException {
                // the plan fits: the run goes ahead, and --params-out goes with it
                paramsWritten = cmd.writeParamsOut(params);
                o.printf(Locale.ROOT, "model %s: %d parameters; x1 %s%s; %s%n", net.spec(), params.count(),
                        Shapes.str(x1.shape()), x2 == null ? " (x2 = x1)" : ", x2 " + Shapes.str(x2.shape()),
                        plan.dtype().shortName());
                o.println(planLine(kind, cmd.ensemble == null ? "" : ", mean of an ensemble of " + cmd.ensemble
                        + " (seeds " + cmd.seed + ".." + (cmd.seed + cmd.ensemble - 1) + ")", plan));
                o.flush();
            }

            @Override
            public void discarding(Path out) {
                err.println("ntk4j: --overwrite: the unfinished run of " + out + " is discarded");
            }

            @Override
            public TiledKernelRun.Progress progress(TilePlan plan, int alreadyDone) {
                tilesStarted = true;
                TileProgress progress = new TileProgress(plan, alreadyDone, cmd.quiet, System.console() != null, err);
                interruption.started(progress);
                return progress;
            }

            @Override
            public PrintWriter clusterLog() {
                return o;
            }

            @Override
            public void finished(TiledKernelRun.Result r) throws IOException {
                // written while the manifests are kept: a report that cannot be written (a full disk) leaves the
                // finished kernel, which the same command with --resume checks and reports without computing it
                if (cmd.report == null) {
                    return;
                }
                org.ntk4j.io.JsonReport report = Reports.tiled(r);
                if (cluster != null) {
                    cluster.report().forEach(report::put);
                }
                try {
                    report.write(cmd.report);
                } catch (IOException e) {
                    throw new IOException(e.getMessage() + "; the kernel is finished in " + cmd.out + (cmd.sem == null
                            ? "" : " and " + cmd.sem) + ": the same command with --resume writes the report without "
                            + "computing it again", e);
                }
                reportWritten = true;
            }
        };
        TiledKernelRun.Result r;
        try (cluster; interruption) { // the hook goes before the cluster's stop, which follows the finished file
            if (cluster != null) {
                cluster.connect(cmd.spark, err); // before any file: a run that cannot start leaves none
            }
            r = TiledKernelRun.run(request, events);
        } catch (RuntimeException e) {
            discardIfItCannotFinish(e);
            discardParamsIfNotStarted(e);
            throw e;
        } catch (IOException e) {
            discardParamsIfNotStarted(e);
            throw e;
        }
        TilePlan plan = r.plan();
        double seconds = r.seconds();
        double flops = r.flops();
        // the cache of prepared tiles is kept only where it fits beside the plan's predicted peak in the budget; the
        // sum bounds the run (it counts the per-worker prepared tiles that the cache replaces twice)
        String cache = r.preparedCacheBytes() > 0 ? ", at most " + CostModel.human(plan.predictedPeakBytes()
                + r.preparedCacheBytes()) + " with the run's cache of prepared tiles" : "";
        o.printf(Locale.ROOT, "%d tile%s computed (%d already done), %.3f s, %.3g FLOPs predicted, %.2f GFLOP/s, "
                        + "peak %s (predicted %s%s; budget %s)%n", r.computed(), r.computed() == 1 ? "" : "s",
                r.resumed(), seconds, flops,
                flops / seconds / 1e9, CostModel.human(r.peakBytes()), CostModel.human(plan.predictedPeakBytes()),
                cache, CostModel.human(budget));
        o.printf(Locale.ROOT, "kernel %s %s%n", Shapes.str(plan.shape()), summary(plan));
        o.println("wrote " + cmd.out);
        if (cmd.sem != null) {
            o.println("wrote " + cmd.sem);
        }
        if (reportWritten) {
            o.println("wrote " + cmd.report);
        }
    }

    /**
     * A run that failed before its tiles began (its OUT.partial did not fit, say: "nothing was written") leaves no
     * --params-out either, so that its rerun needs no --overwrite; TiledKernelRun leaves no files of the kernel.
     */
    private void discardParamsIfNotStarted(Exception e) {
        if (tilesStarted || !paramsWritten) {
            return;
        }
        try {
            Files.deleteIfExists(cmd.paramsOut);
            paramsWritten = false;
        } catch (IOException deleting) {
            e.addSuppressed(deleting);
        }
    }

    /**
     * A tile that is not finite (org.ntk4j.ntk.NonFiniteKernelException, here or as the cause of a worker's
     * failure) fails the same way in any run of the same command, so its unfinished files cannot lead to a kernel:
     * they are deleted (the run holds OUT.lock), and the command fails as one that wrote nothing, whose rerun in
     * float64 needs neither --resume nor --overwrite.
     */
    private void discardIfItCannotFinish(RuntimeException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof org.ntk4j.ntk.NonFiniteKernelException) {
                for (Path file : cmd.sem == null ? java.util.List.of(cmd.out) : java.util.List.of(cmd.out, cmd.sem)) {
                    try {
                        Files.deleteIfExists(TileStore.partialPath(file));
                        Files.deleteIfExists(TileStore.manifestPath(file));
                        TileStore.deleteJournals(file);
                    } catch (IOException deleting) {
                        e.addSuppressed(deleting);
                    }
                }
                try {
                    if (paramsWritten) {
                        Files.deleteIfExists(cmd.paramsOut);
                    }
                } catch (IOException deleting) {
                    e.addSuppressed(deleting);
                }
                return;
            }
        }
    }

    /**
     * The shutdown hook of a tiled run while it writes its files. SIGINT (Ctrl-C) or SIGTERM makes the JVM run its
     * shutdown hooks and exit (130, 143) while the tiles may still be computing; this one says on stderr, in one
     * line, how many tiles are in the partial file and that the same command with {@code --resume} continues. It
     * writes no data: the manifest already records the finished tiles, and a tile half written is not in it. It
     * leaves the lock files ({@link TileStore#lockPath}) alone: the JVM halts only once every hook has returned
     * (Spark's stops its context, which takes seconds), and until then the run's tiles go on being written and
     * recorded, so the claim must last until the process is gone, when the operating system releases it. A lock
     * file deleted here (as before 2026-12-07) let a second process claim OUT on a new file meanwhile and, with
     * --overwrite, truncate OUT.partial under those tiles. The file left behind is harmless: the next run on OUT
     * takes it, and removes it when it ends. Registered by the constructor, removed by
     * {@link #close()} when the run returns or fails, so that neither the normal exit nor an error's exit (both
     * through {@link System#exit}, which runs the hooks too) fires it.
     */
    static final class Interruption extends ShutdownLine {
        private final Path out;
        private final Path sem;
        private final PrintWriter err;
        private volatile TileProgress progress;

        /**
         * Registers the hook.
         *
         * @param out the kernel file
         * @param sem the standard-error file, or null
         * @param err where the line goes (the command's error stream)
         */
        Interruption(Path out, Path sem, PrintWriter err) {
            this.out = out;
            this.sem = sem;
            this.err = err;
            register();
        }

        /** The tiles have started: their count comes from {@code p}. */
        void started(TileProgress p) {
            progress = p;
        }

        /** What the hook says, from the files as they are now. */
        private String line() {
            TileProgress p = progress;
            String partials = TileStore.partialPath(out) + (sem == null ? "" : " and " + TileStore.partialPath(sem));
            boolean manifest = Files.exists(TileStore.manifestPath(out));
            boolean resumable = manifest && Files.exists(TileStore.partialPath(out))
                    && (sem == null || Files.exists(TileStore.manifestPath(sem)));
            if (resumable) {
                // the tiles in the manifests, where a resume finds them (the progress counts a tile after its
                // record, so a tile recorded as the signal came was not yet in p.done()); at least p.done()
                int recorded = TileStore.recordedTileCount(out);
                if (sem != null) {
                    recorded = Math.min(recorded, TileStore.recordedTileCount(sem));
                }
                return "ntk4j: interrupted; " + (p == null ? "the unfinished run is" : Math.max(p.done(), recorded)
                        + " of " + p.total() + " tiles are") + " in " + partials + ": the same command with --resume "
                        + "continues";
            }
            if (manifest && Files.exists(out)) {
                // TileStore.finishAll had renamed OUT.partial (and maybe SEM's) but not removed OUT.manifest
                return "ntk4j: interrupted while finishing " + out + ": the same command with --resume completes it";
            }
            if (p != null) {
                // TileStore.finishAll had renamed the partial files and removed the manifests
                return "ntk4j: interrupted while finishing " + out;
            }
            return "ntk4j: interrupted before the first tile; the same command starts the run again";
        }

        /**
         * The hook: one line, and nothing that waits on the run's threads or lets go of the run's claim on OUT
         * (see the class comment).
         */
        @Override
        void interrupted() {
            TileProgress p = progress;
            // on a terminal, the progress bar's line is left without its line break
            err.print((p != null && p.drawsBar() ? System.lineSeparator() : "") + line() + System.lineSeparator());
            err.flush();
        }
    }

    /** Mean, min and max of the written kernel, streamed from the file (it may not fit in memory). */
    private String summary(TilePlan plan) throws IOException {
        NpyHeader h = Npy.readHeader(cmd.out);
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        double sum = 0;
        long count = 0;
        boolean f32 = plan.dtype() == DType.F32;
        try (FileChannel ch = FileChannel.open(cmd.out, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(1 << 23).order(ByteOrder.LITTLE_ENDIAN);
            long at = h.dataOffset();
            long end = Files.size(cmd.out);
            while (at < end) {
                buf.clear();
                int r = ch.read(buf, at);
                if (r <= 0) {
                    break;
                }
                at += r;
                buf.flip();
                while (buf.remaining() >= (f32 ? 4 : 8)) {
                    double v = f32 ? buf.getFloat() : buf.getDouble();
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                    sum += v;
                    count++;
                }
                at -= buf.remaining();
            }
        }
        return String.format(Locale.ROOT, "mean %.6g, min %.6g, max %.6g", sum / count, min, max);
    }
}
