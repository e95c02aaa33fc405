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
import java.util.Map;
import org.ntk4j.cpu.Blas;
import org.ntk4j.io.JsonReport;
import org.ntk4j.io.Npy;
import org.ntk4j.io.NpyHeader;
import org.ntk4j.io.RunFingerprint;
import org.ntk4j.io.TileStore;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.ntk.TilePlanner;
import org.ntk4j.ntk.TiledKernel;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * {@code ntk4j kernel --out OUT}: the kernel planned into tiles under the memory budget and written tile by tile
 * into OUT through a {@link TileStore} ({@code --resume} continues an unfinished run), with progress on stderr
 * and the tiles, budget and measured peak in the report.
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
    private final DType dtype;

    TiledRun(KernelCommand cmd, Model net, Params params, Tensor x1, Tensor x2, KernelKind kind, Method method,
             long budget, DType dtype) {
        this.cmd = cmd;
        this.net = net;
        this.params = params;
        this.x1 = x1;
        this.x2 = x2;
        this.kind = kind;
        this.method = method;
        this.budget = budget;
        this.dtype = dtype;
    }

    /**
     * Before any work: claims OUT ({@link TileStore#lock}: "another ntk4j is writing OUT") and checks what is there.
     * Without {@code --resume}, an unfinished run of OUT is refused unless {@code --overwrite} discards it; with
     * {@code --resume}, there must be one, and an explicit {@code --method} or {@code --tile} must be the recorded
     * one (a resumed run keeps its method and grid).
     */
    static Claim claim(KernelCommand cmd, Method requested) throws IOException {
        TileStore.RunLock first = claim(cmd, cmd.out, requested);
        if (cmd.sem == null) {
            return new Claim(first, null);
        }
        try {
            return new Claim(first, claim(cmd, cmd.sem, requested));
        } catch (IOException | RuntimeException e) {
            first.close();
            throw e;
        }
    }

    /** The locks of a run's outputs (OUT, and SEM with --ensemble --sem). */
    static final class Claim implements java.io.Closeable {
        private final TileStore.RunLock out;
        private final TileStore.RunLock sem;

        Claim(TileStore.RunLock out, TileStore.RunLock sem) {
            this.out = out;
            this.sem = sem;
        }

        @Override
        public void close() throws IOException {
            try {
                if (sem != null) {
                    sem.close();
                }
            } finally {
                out.close();
            }
        }
    }

    /** The fingerprint of an ensemble run: its size and seeds, then the hash (of member 0's parameters). */
    static String fingerprint(KernelCommand cmd, String hash, boolean ofSem) {
        if (cmd.ensemble == null) {
            return hash;
        }
        return "ensemble " + cmd.ensemble + " seeds " + cmd.seed + ".." + (cmd.seed + cmd.ensemble - 1)
                + (ofSem ? " sem " : " mean ") + hash;
    }

    /** The --ensemble K recorded in a fingerprint, or "none". */
    static String recordedEnsemble(String fingerprint) {
        String[] w = fingerprint == null ? new String[0] : fingerprint.split(" ");
        return w.length > 1 && w[0].equals("ensemble") ? w[1] : "none";
    }

    private static TileStore.RunLock claim(KernelCommand cmd, Path out, Method requested) throws IOException {
        Path manifest = TileStore.manifestPath(out);
        Path partial = TileStore.partialPath(out);
        TileStore.RunLock lock = TileStore.lock(out);
        try {
            if (cmd.resume) {
                if (!Files.exists(manifest)) {
                    throw new IOException("--resume: no unfinished run at " + out + " (" + manifest
                            + " does not exist)");
                }
                Map<String, String> recorded = TileStore.recordedRun(out);
                String was = recordedEnsemble(recorded.get("fingerprint"));
                String now = cmd.ensemble == null ? "none" : cmd.ensemble.toString();
                if (!was.equals(now)) {
                    throw new IllegalArgumentException("--resume: the run of " + out + " is " + (was.equals("none")
                            ? "not an ensemble" : "the mean of --ensemble " + was) + ", not " + (now.equals("none")
                            ? "a single kernel" : "--ensemble " + now) + " (give the recorded --ensemble to continue "
                            + "it, or start again with --overwrite and no --resume)");
                }
                String method = recorded.getOrDefault("method", "");
                if (requested != Method.AUTO && !requested.shortName().equals(method)) {
                    throw new IllegalArgumentException("--resume: the run of " + out + " uses --method " + method
                            + ", not " + requested.shortName() + " (drop --method to continue it, or start again "
                            + "with --overwrite and no --resume)");
                }
                if (cmd.tile > 0) {
                    String[] shape = recorded.getOrDefault("shape", "").split(",");
                    String rowTile = recorded.getOrDefault("row-tile", "");
                    int asked;
                    try {
                        int maxT = Math.max(Integer.parseInt(shape[0]), Integer.parseInt(shape[1]));
                        asked = (int) Math.min(maxT, ((long) cmd.tile + TilePlanner.QUANTUM - 1) / TilePlanner.QUANTUM
                                * TilePlanner.QUANTUM);
                    } catch (RuntimeException e) {
                        throw new IOException("manifest " + manifest + " is corrupt: its shape is '"
                                + recorded.get("shape") + "'");
                    }
                    if (!rowTile.equals(Integer.toString(asked))) {
                        throw new IllegalArgumentException("--resume: the run of " + out + " has tiles of " + rowTile
                                + " examples, not " + asked + " (--tile " + cmd.tile + "; drop --tile to continue "
                                + "it, or start again with --overwrite and no --resume)");
                    }
                }
            } else if (!cmd.overwrite.overwrite && Files.exists(manifest)) {
                throw new IllegalArgumentException(out + " has an unfinished run (" + partial + ", " + manifest
                        + "); pass --resume to continue it, or --overwrite to discard it and start again");
            } else if (!cmd.overwrite.overwrite && Files.exists(partial)) {
                throw new IllegalArgumentException(partial + " is left from an unfinished run that cannot be resumed "
                        + "(no " + manifest + "); pass --overwrite to discard it and start again");
            }
            return lock;
        } catch (IOException | RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    void run(PrintWriter o, PrintWriter err) throws IOException {
        int cores = Runtime.getRuntime().availableProcessors();
        int threads = cmd.threads == null ? cores : cmd.threads;
        if (threads < 1) {
            throw new IllegalArgumentException("--threads: expected a positive number, got " + threads);
        }
        if (cmd.tile < 0) {
            throw new IllegalArgumentException("--tile: expected a positive number of examples, got " + cmd.tile);
        }
        // --spark: the tiles are computed on a cluster (ntk4j-spark), the rest of the run is the same
        ClusterTiles cluster = cmd.spark == null ? null : ClusterTiles.find();
        int[] perExample = Shapes.dropFirst(x1.shape());
        int n1 = x1.dim(0);
        int n2 = x2 == null ? 0 : x2.dim(0);
        EmpiricalNtk ntk = EmpiricalNtk.of(net, params).method(method).memoryBudget(budget);
        int tileSize = cmd.tile;
        if (cmd.resume) {
            // the resumed run computes the recorded grid with the recorded method, whatever the options now
            Map<String, String> recorded = TileStore.recordedRun(cmd.out);
            try {
                tileSize = Integer.parseInt(recorded.getOrDefault("row-tile", ""));
                ntk = ntk.method(Method.parse(recorded.getOrDefault("method", "")));
            } catch (IllegalArgumentException e) {
                throw new IOException("manifest " + TileStore.manifestPath(cmd.out) + " is corrupt: " + e.getMessage());
            }
        }
        TilePlan plan;
        try {
            plan = TilePlanner.of(ntk, kind).budget(budget).tile(tileSize).workers(threads)
                    .plan(n1, n2, perExample, dtype);
        } catch (IllegalArgumentException e) {
            if (!cmd.resume) {
                throw e;
            }
            // the planner's advice (a smaller --tile, the smallest tiles' need) does not apply: a resumed run keeps
            // its tiles; its detail for the recorded tile size ("--tile T with method M needs X but ...") does
            String advice = " (choose a smaller --tile or none)";
            String m = e.getMessage();
            String detail = !m.endsWith(advice) ? "" : " (" + m.substring(0, m.length() - advice.length())
                    .replaceFirst("^memory budget: --tile \\d+ with method (\\S+) needs", "with method $1 they need")
                    + ")";
            throw new IllegalArgumentException("--resume: the run's tiles of " + tileSize + " examples do not fit "
                    + "--memory " + CostModel.human(budget) + detail + "; raise --memory (a resumed run keeps its "
                    + "tiles)");
        }
        if (!cmd.resume && (TileStore.unfinished(cmd.out) || Files.exists(TileStore.partialPath(cmd.out)))) {
            err.println("ntk4j: --overwrite: the unfinished run of " + cmd.out + " is discarded");
        }
        // one BLAS thread per tile, the parallelism coming from tiles computed at once: OpenBLAS partitions a GEMM
        // over its threads by the GEMM's size, so a tile's bits would otherwise depend on the thread count
        int blasBefore = Blas.threads();
        Blas.setThreads(1);
        String hash = RunFingerprint.of(net.spec(), params, x1, x2);
        String fingerprint = fingerprint(cmd, hash, false);
        o.printf(Locale.ROOT, "model %s: %d parameters; x1 %s%s; %s%n", net.spec(), params.count(),
                Shapes.str(x1.shape()), x2 == null ? " (x2 = x1)" : ", x2 " + Shapes.str(x2.shape()),
                dtype.shortName());
        o.printf(Locale.ROOT, "kind %s%s, kernel %s (%s) in %s%n", kind, cmd.ensemble == null ? ""
                : ", mean of an ensemble of " + cmd.ensemble + " (seeds " + cmd.seed + ".." + (cmd.seed + cmd.ensemble
                - 1) + ")", Shapes.str(plan.shape()),
                CostModel.human(plan.elements() * dtype.bytes()), plan.describe());
        o.flush();
        Tensor.resetPeakBytes();
        long start = System.nanoTime();
        long flopsBefore = org.ntk4j.graph.FlopCount.total();
        int alreadyDone;
        TileProgress progress;
        String semFingerprint = fingerprint(cmd, hash, true);
        try (TileStore store = cmd.resume ? TileStore.resume(cmd.out, plan, fingerprint)
                : TileStore.create(cmd.out, plan, fingerprint);
             TileStore semStore = cmd.sem == null ? null : cmd.resume ? TileStore.resume(cmd.sem, plan, semFingerprint)
                : TileStore.create(cmd.sem, plan, semFingerprint)) {
            // a tile is done when it is in every output (a run killed between OUT and SEM recomputes it)
            java.util.Set<Integer> done = new java.util.TreeSet<>(store.finishedTiles());
            if (semStore != null) {
                done.retainAll(semStore.finishedTiles());
            }
            alreadyDone = done.size();
            progress = new TileProgress(plan, alreadyDone, cmd.quiet, System.console() != null, err);
            try (TileProgress p = progress) {
                if (cluster != null) {
                    cluster.compute(cmd.spark, net.spec(), params, x1, x2, store, cmd.out, p, o);
                } else if (cmd.ensemble != null) {
                    EmpiricalNtk configured = ntk;
                    org.ntk4j.ntk.Ensemble.of(net, cmd.seed, cmd.ensemble, perExample, dtype)
                            .configure(e -> e.method(configured.method()).memoryBudget(budget))
                            .run(plan, x1, x2, done, (t, mean, sem) -> {
                                store.write(t, mean);
                                if (semStore != null) {
                                    semStore.write(t, sem);
                                }
                            }, p);
                } else {
                    new TiledKernel(ntk, plan, x1, x2).run(store.finishedTiles(), store::write, p);
                }
            }
            store.finish();
            if (semStore != null) {
                semStore.finish();
            }
        } finally {
            Blas.setThreads(blasBefore);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        long peak = Tensor.peakBytes();
        double flops = progress.flopsHere();
        o.printf(Locale.ROOT, "%d tiles computed (%d already done), %.3f s, %.3g FLOPs predicted, %.2f GFLOP/s, peak %s "
                        + "(predicted %s, budget %s)%n", progress.computedHere(), alreadyDone, seconds, flops,
                flops / seconds / 1e9, CostModel.human(peak), CostModel.human(plan.predictedPeakBytes()),
                CostModel.human(budget));
        o.printf(Locale.ROOT, "kernel %s %s%n", Shapes.str(plan.shape()), summary(plan));
        o.println("wrote " + cmd.out);
        if (cmd.sem != null) {
            o.println("wrote " + cmd.sem);
        }
        if (cmd.report != null) {
            new JsonReport().put("model", net.spec()).put("kind", kind.toString())
                    .put("ensemble", cmd.ensemble == null ? 1 : cmd.ensemble)
                    .put("method", plan.method().shortName()).put("auto", method == Method.AUTO)
                    .put("dtype", dtype.shortName()).put("x1_shape", x1.shape())
                    .put("x2_shape", x2 == null ? x1.shape() : x2.shape()).put("x2_is_x1", x2 == null)
                    .put("kernel_shape", plan.shape()).put("parameters", params.count())
                    .put("seconds", seconds).put("predicted_flops", flops)
                    .put("flops_counted", org.ntk4j.graph.FlopCount.total() - flopsBefore)
                    .put("achieved_flops_per_second", flops / seconds)
                    .put("peak_bytes", peak).put("predicted_peak_bytes", plan.predictedPeakBytes())
                    .put("memory_budget_bytes", budget).put("tiles", plan.tileCount())
                    .put("tiles_computed", progress.computedHere()).put("tiles_resumed", alreadyDone)
                    .put("tile_rows", plan.rowTile()).put("tile_columns", plan.columnTile())
                    .put("workers", plan.workers()).put("out", cmd.out.toString()).write(cmd.report);
            o.println("wrote " + cmd.report);
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
