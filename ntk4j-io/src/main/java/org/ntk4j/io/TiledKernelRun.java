package org.ntk4j.io;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.ntk4j.cpu.Blas;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.ClusterTiles;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Ensemble;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.ntk.TilePlanner;
import org.ntk4j.ntk.TiledKernel;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The workflow of {@code ntk4j kernel --out OUT}: the kernel planned into tiles under the memory budget and written
 * tile by tile into OUT through a {@link TileStore} (resumable: an unfinished run continues with its recorded grid
 * and method), optionally the mean of an ensemble with its standard error into a second file, the tiles computed
 * in this JVM or by a {@link ClusterTiles} service. {@link #claim} takes the outputs before any work; {@link #run}
 * computes. Messages name the {@code ntk4j kernel} options that the request's fields stand for.
 */
public final class TiledKernelRun {
    private TiledKernelRun() {
    }

    /**
     * What to compute.
     *
     * @param model the network
     * @param params its parameters (member 0's, for an ensemble; not closed)
     * @param x1 the first inputs [N1, ...]; not closed
     * @param x2 the second inputs, or null for x2 = x1
     * @param kind the kernel kind
     * @param method the method, or AUTO (a resumed run takes the recorded one)
     * @param memoryBudget bytes the tiles may hold
     * @param tile examples per tile (rounded up to the planner's quantum), or 0 for the largest that fits
     * @param threads tiles computed at once, each with one BLAS thread (≥ 1)
     * @param resume continue the unfinished run of {@code out}
     * @param overwrite discard an unfinished run of {@code out} instead of refusing it
     * @param out the kernel file
     * @param sem with an ensemble, the file of the standard error of the mean, else null
     * @param ensemble K ≥ 1 initialisations (seeds {@code seed} ... {@code seed + K − 1}) to average, or 0 for the
     *     kernel at {@code params}
     * @param seed the first seed of an ensemble
     * @param cluster the service computing the tiles on a cluster, or null to compute them here
     * @param master the cluster's master URL (empty: the environment's); with {@code cluster} only
     */
    public record Request(Model model, Params params, Tensor x1, Tensor x2, KernelKind kind, Method method,
                          long memoryBudget, int tile, int threads, boolean resume, boolean overwrite, Path out,
                          Path sem, int ensemble, long seed, ClusterTiles cluster, String master) {
        /**
         * Checks the counts.
         *
         * @param model the network
         * @param params its parameters (member 0's, for an ensemble; not closed)
         * @param x1 the first inputs [N1, ...]; not closed
         * @param x2 the second inputs, or null for x2 = x1
         * @param kind the kernel kind
         * @param method the method, or AUTO (a resumed run takes the recorded one)
         * @param memoryBudget bytes the tiles may hold
         * @param tile examples per tile (rounded up to the planner's quantum), or 0 for the largest that fits
         * @param threads tiles computed at once, each with one BLAS thread (≥ 1)
         * @param resume continue the unfinished run of {@code out}
         * @param overwrite discard an unfinished run of {@code out} instead of refusing it
         * @param out the kernel file
         * @param sem with an ensemble, the file of the standard error of the mean, else null
         * @param ensemble K ≥ 1 initialisations (seeds {@code seed} ... {@code seed + K − 1}) to average, or 0 for the
         *     kernel at {@code params}
         * @param seed the first seed of an ensemble
         * @param cluster the service computing the tiles on a cluster, or null to compute them here
         * @param master the cluster's master URL (empty: the environment's); with {@code cluster} only
         * @throws IllegalArgumentException if {@code threads} is below 1 or {@code tile} negative
         */
        public Request {
            if (threads < 1) {
                throw new IllegalArgumentException("--threads: expected a positive number, got " + threads);
            }
            if (tile < 0) {
                throw new IllegalArgumentException("--tile: expected a positive number of examples, got " + tile);
            }
        }
    }

    /** Progress of the tiles: told of each tile as it is done, closed once the tiles are (before the files are). */
    public interface Progress extends TiledKernel.Listener, AutoCloseable {
        @Override
        void close();
    }

    /** What the caller hears of a run as it goes. */
    public interface Events {
        /**
         * The run is planned (the tiles fit the budget), before any store is opened or tile computed: the first
         * point at which the run is known to go ahead (a command writes files that go with the run here, not
         * before a refusal).
         *
         * @param plan the tiles
         * @throws IOException if the caller's own files cannot be written; the run then stops
         */
        void planned(TilePlan plan) throws IOException;

        /**
         * Without {@code resume}, an unfinished run of OUT is being discarded ({@code overwrite}).
         *
         * @param out the kernel file
         */
        void discarding(Path out);

        /**
         * The stores are open: the tiles start.
         *
         * @param plan the tiles
         * @param alreadyDone the tiles finished by an earlier run
         * @return told of each tile computed; closed once they all are
         */
        Progress progress(TilePlan plan, int alreadyDone);

        /**
         * Where a cluster service says what it did.
         *
         * @return the log
         */
        PrintWriter clusterLog();
    }

    /**
     * What a run did.
     *
     * @param request what it computed
     * @param plan the tiles (the method used, shape, predicted peak)
     * @param seconds wall-clock seconds of the tiles
     * @param peakBytes the measured peak of the tensors (in this JVM)
     * @param flops the predicted FLOPs of the tiles computed by this run
     * @param computed tiles computed by this run
     * @param resumed tiles already done before it
     * @param flopsCounted the FLOPs counted while the tiles ran ({@link org.ntk4j.graph.FlopCount})
     * @param preparedCacheBytes the estimated bytes of the prepared tiles kept for the whole run beside the plan's
     *        predicted peak ({@link TiledKernel#preparedCacheBytes}); 0 when none were (and for ensembles and
     *        clusters, which prepare per tile or remotely)
     */
    public record Result(Request request, TilePlan plan, double seconds, long peakBytes, double flops, int computed,
                         int resumed, long flopsCounted, long preparedCacheBytes) {
    }

    /** The locks of a run's outputs (OUT, and SEM with an ensemble). */
    public static final class Claim implements java.io.Closeable {
        private final TileStore.RunLock out;
        private final TileStore.RunLock sem;

        private Claim(TileStore.RunLock out, TileStore.RunLock sem) {
            this.out = out;
            this.sem = sem;
        }

        /**
         * Releases the locks.
         *
         * @throws IOException if releasing fails
         */
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

    /**
     * Before any work: claims OUT ({@link TileStore#lock}: "another ntk4j is writing OUT") and SEM, and checks what
     * is there. Without {@code resume}, an unfinished run of OUT is refused unless {@code overwrite} discards it;
     * with {@code resume}, there must be one, of the same ensemble, and a requested method (not AUTO) or tile size
     * must be the recorded one (a resumed run keeps its method and grid).
     *
     * @param out the kernel file
     * @param sem the standard-error file, or null
     * @param resume continue the unfinished run
     * @param overwrite discard an unfinished run
     * @param method the method asked for (AUTO: whatever is recorded)
     * @param tile the tile size asked for, or 0
     * @param ensemble the ensemble's size, or 0 for none
     * @return the locks, which the caller holds through the run and closes
     * @throws IOException if the lock cannot be taken, or the manifest is missing (resume) or corrupt
     * @throws IllegalArgumentException when the request does not match what is there (the message says what to do)
     */
    public static Claim claim(Path out, Path sem, boolean resume, boolean overwrite, Method method, int tile,
                              int ensemble) throws IOException {
        Path kernel = AtomicFile.destination(out);
        TileStore.RunLock first = claim(kernel, resume, overwrite, method, tile, ensemble);
        if (sem == null) {
            return new Claim(first, null);
        }
        try {
            Path error = AtomicFile.destination(sem);
            return new Claim(first, resume && semFinished(kernel, error) ? TileStore.lock(error)
                    : claim(error, resume, overwrite, method, tile, ensemble));
        } catch (IOException | RuntimeException e) {
            first.close();
            throw e;
        }
    }

    /**
     * Whether a run was killed while {@link TileStore#finishAll} removed its manifests: OUT renamed with its
     * manifest left, SEM renamed and its manifest removed (SEM's goes first). Resuming it checks OUT against its
     * manifest, SEM against the plan's size and header, and removes OUT's manifest.
     */
    private static boolean semFinished(Path out, Path sem) {
        return Files.exists(TileStore.manifestPath(out)) && !Files.exists(TileStore.partialPath(out))
                && Files.isRegularFile(out) && !Files.exists(TileStore.manifestPath(sem))
                && !Files.exists(TileStore.partialPath(sem)) && Files.isRegularFile(sem);
    }

    /**
     * The fingerprint of a run: the hash of model, parameters and inputs; for an ensemble its size and seeds first.
     *
     * @param ensemble the ensemble's size, or 0
     * @param seed its first seed
     * @param hash {@link RunFingerprint#of}
     * @param ofSem true for the standard-error file's
     * @return the fingerprint recorded in the manifest
     */
    static String fingerprint(int ensemble, long seed, String hash, boolean ofSem) {
        if (ensemble == 0) {
            return hash;
        }
        return "ensemble " + ensemble + " seeds " + seed + ".." + (seed + ensemble - 1)
                + (ofSem ? " sem " : " mean ") + hash;
    }

    /** The ensemble size recorded in a fingerprint, or "none". */
    static String recordedEnsemble(String fingerprint) {
        String[] w = fingerprint == null ? new String[0] : fingerprint.split(" ");
        return w.length > 1 && w[0].equals("ensemble") ? w[1] : "none";
    }

    private static TileStore.RunLock claim(Path out, boolean resume, boolean overwrite, Method requested, int tile,
                                           int ensemble) throws IOException {
        Path manifest = TileStore.manifestPath(out);
        Path partial = TileStore.partialPath(out);
        TileStore.RunLock lock = TileStore.lock(out);
        try {
            if (resume) {
                if (!Files.exists(manifest)) {
                    throw new IOException("--resume: no unfinished run at " + out + " (" + manifest
                            + " does not exist)");
                }
                Map<String, String> recorded = TileStore.recordedRun(out);
                String was = recordedEnsemble(recorded.get("fingerprint"));
                String now = ensemble == 0 ? "none" : Integer.toString(ensemble);
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
                if (tile > 0) {
                    String[] shape = recorded.getOrDefault("shape", "").split(",");
                    String rowTile = recorded.getOrDefault("row-tile", "");
                    int asked;
                    try {
                        int maxT = Math.max(Integer.parseInt(shape[0]), Integer.parseInt(shape[1]));
                        asked = (int) Math.min(maxT, ((long) tile + TilePlanner.QUANTUM - 1) / TilePlanner.QUANTUM
                                * TilePlanner.QUANTUM);
                    } catch (RuntimeException e) {
                        throw new IOException("manifest " + manifest + " is corrupt: its shape is '"
                                + recorded.get("shape") + "'");
                    }
                    if (!rowTile.equals(Integer.toString(asked))) {
                        throw new IllegalArgumentException("--resume: the run of " + out + " has tiles of " + rowTile
                                + " examples, not " + asked + " (--tile " + tile + "; drop --tile to continue "
                                + "it, or start again with --overwrite and no --resume)");
                    }
                }
            } else if (!overwrite && Files.exists(manifest)) {
                throw new IllegalArgumentException(out + " has an unfinished run (" + (Files.exists(partial)
                        ? partial + ", " + manifest : manifest + ", left by a finish that was cut short")
                        + "); pass --resume to continue it, or --overwrite to discard it and start again");
            } else if (!overwrite && Files.exists(partial)) {
                throw new IllegalArgumentException(partial + " is left from an unfinished run that cannot be resumed "
                        + "(no " + manifest + "); pass --overwrite to discard it and start again");
            }
            return lock;
        } catch (IOException | RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    /**
     * Runs the request: plans (a resumed run: the recorded grid and method), creates or resumes the stores,
     * computes every unfinished tile (with one BLAS thread per tile, restored afterwards, so that a tile's bits do
     * not depend on the thread count) and finishes the files. The caller should hold {@link #claim}'s locks.
     *
     * @param q what to compute
     * @param events told of the plan, the progress and a discarded run
     * @return what the run did
     * @throws IOException if a file cannot be written, the recorded run is corrupt, or the cluster job fails
     * @throws IllegalArgumentException if the tiles do not fit the budget (a resumed run: its recorded tiles)
     */
    public static Result run(Request q, Events events) throws IOException {
        // a link named as OUT or SEM: its target is written, the run's files beside it (AtomicFile.destination)
        Path out = AtomicFile.destination(q.out());
        Path sem = q.sem() == null ? null : AtomicFile.destination(q.sem());
        Tensor x1 = q.x1();
        Tensor x2 = q.x2();
        DType dtype = x1.dtype();
        int[] perExample = Shapes.dropFirst(x1.shape());
        int n1 = x1.dim(0);
        int n2 = x2 == null ? 0 : x2.dim(0);
        long budget = q.memoryBudget();
        EmpiricalNtk ntk = EmpiricalNtk.of(q.model(), q.params()).method(q.method()).memoryBudget(budget);
        int tileSize = q.tile();
        long blockBudget = 0; // 0: the planner derives it
        int blasThreads = 0; // 0: the planner derives it
        if (q.resume()) {
            // the resumed run computes the recorded grid with the recorded method (and blocks in the recorded tiles
            // of basis vectors or chunks of outputs, if any, on the recorded BLAS threads), whatever the options now
            Map<String, String> recorded = TileStore.recordedRun(out);
            try {
                tileSize = Integer.parseInt(recorded.getOrDefault("row-tile", ""));
                ntk = ntk.method(Method.parse(recorded.getOrDefault("method", "")));
                String recordedBlockBudget = recorded.get("block-budget");
                blockBudget = recordedBlockBudget == null ? Long.MAX_VALUE : Long.parseLong(recordedBlockBudget);
                blasThreads = Integer.parseInt(recorded.getOrDefault("blas-threads", "1"));
            } catch (IllegalArgumentException e) {
                throw new IOException("manifest " + TileStore.manifestPath(out) + " is corrupt: "
                        + e.getMessage());
            }
        }
        TilePlanner planner = TilePlanner.of(ntk, q.kind()).budget(budget).workers(q.threads()).tile(tileSize);
        if (blockBudget > 0) {
            planner.blockBudget(blockBudget);
        }
        if (blasThreads > 0) {
            planner.blasThreads(blasThreads);
        }
        TilePlan plan;
        try {
            plan = planner.plan(n1, n2, perExample, dtype);
        } catch (IllegalArgumentException e) {
            if (!q.resume()) {
                throw e;
            }
            // the planner's advice (a smaller --tile, the smallest tiles' need) does not apply: a resumed run keeps
            // its tiles; its need for the recorded tile size ("--tile T with method M needs X but ...") does
            java.util.regex.Matcher need = java.util.regex.Pattern
                    .compile("^memory budget: --tile \\d+ with method (\\S+) needs (.+?) but the budget is ")
                    .matcher(e.getMessage());
            String detail = !need.find() ? "; raise --memory" : " (with method " + need.group(1) + " they need "
                    + need.group(2) + "); raise --memory to at least " + need.group(2);
            throw new IllegalArgumentException("--resume: the run's tiles of " + tileSize + " examples do not fit "
                    + "--memory " + CostModel.human(budget) + detail + " (a resumed run keeps its tiles)");
        }
        if (!q.resume() && (TileStore.unfinished(out) || Files.exists(TileStore.partialPath(out)))) {
            events.discarding(out);
        }
        // SEM finished by a run killed before it removed OUT's manifest: only OUT's store, all of its tiles done
        boolean semDone = q.resume() && sem != null && semFinished(out, sem);
        if (semDone) {
            TileStore.requireKernelFile(sem, plan);
        }
        String hash;
        String parts;
        try {
            // an ONNX model's fingerprint reads its file (RunFingerprint): the same name with another graph differs
            hash = RunFingerprint.of(q.model().spec(), q.params(), x1, x2);
            // recorded beside the fingerprint: a resume refused for another fingerprint names the part that differs
            parts = RunFingerprint.parts(q.model().spec(), q.params(), x1, x2);
        } catch (java.io.UncheckedIOException e) {
            throw new IOException(e.getMessage(), e.getCause());
        }
        String fingerprint = fingerprint(q.ensemble(), q.seed(), hash, false);
        String semFingerprint = fingerprint(q.ensemble(), q.seed(), hash, true);
        if (q.resume()) {
            // another run's manifest is refused before the caller writes its own files (planned: --params-out)
            TileStore.requireSameRun(out, plan, fingerprint, parts);
            if (sem != null && !semDone) {
                TileStore.requireSameRun(sem, plan, semFingerprint, parts);
            }
        }
        // before the BLAS threads change, which a failure here (writing the caller's files) would leave changed
        events.planned(plan);
        // the plan's BLAS threads per tile (the cores shared by the blocks the budget allows at once: one when the
        // parallelism comes from as many tiles at once as cores; a single tile gets the cores): a GEMM split over
        // threads is computed in blocks whose bits may depend on their size, so a tile's bits would otherwise
        // depend on the thread count
        int blasBefore = Blas.threads();
        Blas.setThreads(plan.blasThreads());
        Tensor.resetPeakBytes();
        long start = System.nanoTime();
        long flopsBefore = org.ntk4j.graph.FlopCount.total();
        int alreadyDone;
        Counted counted;
        long cacheBytes = 0;
        try (TileStore store = q.resume() ? TileStore.resume(out, plan, fingerprint, parts)
                : TileStore.create(out, plan, fingerprint, parts);
             TileStore semStore = sem == null || semDone ? null : q.resume()
                ? TileStore.resume(sem, plan, semFingerprint, parts)
                : createSem(out, sem, plan, semFingerprint, parts)) {
            // a tile is done when it is in every output (a run killed between OUT and SEM recomputes it)
            Set<Integer> done = new TreeSet<>(store.finishedTiles());
            if (semStore != null) {
                done.retainAll(semStore.finishedTiles());
            }
            alreadyDone = done.size();
            counted = new Counted(plan, events.progress(plan, alreadyDone));
            try (Counted p = counted) {
                if (q.cluster() != null) {
                    q.cluster().compute(q.master(), q.model().spec(), q.params(), x1, x2, store, out, p,
                            events.clusterLog());
                } else if (q.ensemble() != 0) {
                    EmpiricalNtk configured = ntk;
                    Ensemble.of(q.model(), q.seed(), q.ensemble(), perExample, dtype)
                            .configure(e -> e.method(configured.method()).memoryBudget(budget))
                            .run(plan, x1, x2, done, (t, mean, error) -> {
                                store.write(t, mean);
                                if (semStore != null) {
                                    semStore.write(t, error);
                                }
                            }, p);
                } else {
                    TiledKernel tiled = new TiledKernel(ntk, plan, x1, x2);
                    tiled.run(store.finishedTiles(), store::write, p);
                    cacheBytes = tiled.preparedCacheBytes();
                }
            }
            // both files renamed before either manifest goes: a run killed in between is resumable (TileStore)
            TileStore.finishAll(semStore == null ? List.of(store) : List.of(store, semStore));
        } finally {
            Blas.setThreads(blasBefore);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new Result(q, plan, seconds, Tensor.peakBytes(), counted.flops(), counted.computed(), alreadyDone,
                org.ntk4j.graph.FlopCount.total() - flopsBefore, cacheBytes);
    }

    /**
     * SEM's store of a new run, whose OUT store was just created: when SEM's cannot be created (a full disk), OUT's
     * files, which hold no tile yet, are removed too, so that the failed run leaves neither and its rerun needs no
     * --overwrite (OUT's store, still open, is closed by the caller; an open file may be deleted).
     */
    private static TileStore createSem(Path out, Path sem, TilePlan plan, String fingerprint, String parts)
            throws IOException {
        try {
            return TileStore.create(sem, plan, fingerprint, parts);
        } catch (IOException | RuntimeException e) {
            for (Path file : List.of(TileStore.partialPath(out), TileStore.manifestPath(out))) {
                try {
                    Files.deleteIfExists(file);
                } catch (IOException deleting) {
                    e.addSuppressed(deleting);
                }
            }
            throw e;
        }
    }

    /** Counts the tiles computed here and their predicted FLOPs, and passes each on. */
    private static final class Counted implements TiledKernel.Listener, AutoCloseable {
        private final TilePlan plan;
        private final Progress next;
        private int computed;
        private double flops;

        Counted(TilePlan plan, Progress next) {
            this.plan = plan;
            this.next = next;
        }

        @Override
        public synchronized void tileDone(TilePlan.Tile tile, double seconds) {
            computed++;
            flops += plan.tileFlops(tile.index());
            if (next != null) {
                next.tileDone(tile, seconds);
            }
        }

        synchronized int computed() {
            return computed;
        }

        synchronized double flops() {
            return flops;
        }

        @Override
        public void close() {
            if (next != null) {
                next.close();
            }
        }
    }
}
