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
     * What to compute. Start from {@link #of}, which takes {@code ntk4j kernel --out}'s defaults, and change what
     * differs with {@link #withMethod}, {@link #withTile}, {@link #withThreads}, {@link #withExisting},
     * {@link #withEnsemble} and {@link #withCluster}: the canonical constructor's sixteen positional components (an
     * {@code int} and an {@code int}, two {@code Path}s, an {@code int} and a {@code long} in a row among them) do
     * not say at the call site which is which.
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
     * @param existing what to do with an existing {@code out} or an unfinished run of it
     * @param out the kernel file
     * @param sem with an ensemble, the file of the standard error of the mean, else null
     * @param ensemble K ≥ 1 initialisations (seeds {@code seed} ... {@code seed + K − 1}) to average, or 0 for the
     *     kernel at {@code params}
     * @param seed the first seed of an ensemble
     * @param cluster the service computing the tiles on a cluster, or null to compute them here
     * @param master the cluster's master URL (empty: the environment's); with {@code cluster} only
     */
    public record Request(Model model, Params params, Tensor x1, Tensor x2, KernelKind kind, Method method,
                          long memoryBudget, int tile, int threads, ExistingOutput existing, Path out, Path sem,
                          int ensemble, long seed, ClusterTiles cluster, String master) {
        /**
         * Checks the counts and that the outputs' treatment and OUT are given.
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
         * @param existing what to do with an existing {@code out} or an unfinished run of it
         * @param out the kernel file
         * @param sem with an ensemble, the file of the standard error of the mean, else null
         * @param ensemble K ≥ 1 initialisations (seeds {@code seed} ... {@code seed + K − 1}) to average, or 0 for the
         *     kernel at {@code params}
         * @param seed the first seed of an ensemble
         * @param cluster the service computing the tiles on a cluster, or null to compute them here
         * @param master the cluster's master URL (empty: the environment's); with {@code cluster} only
         * @throws IllegalArgumentException if {@code threads} is below 1, {@code tile} or {@code ensemble}
         *     negative, {@code existing} or {@code out} null, {@code sem} given without an ensemble of at least 2
         *     members, or an ensemble given with a {@code cluster} (which computes the kernel at the parameters)
         */
        public Request {
            if (threads < 1) {
                throw new IllegalArgumentException("--threads: expected a positive number, got " + threads);
            }
            if (tile < 0) {
                throw new IllegalArgumentException("--tile: expected a positive number of examples, got " + tile);
            }
            if (ensemble < 0) {
                throw new IllegalArgumentException("--ensemble: expected K >= 1 members, or 0 for the kernel at the "
                        + "parameters, got " + ensemble);
            }
            if (existing == null) {
                throw new IllegalArgumentException("existing: expected REFUSE, OVERWRITE or RESUME, got null");
            }
            // as the command line refuses them (KernelCommand): a SEM without members to differ was computed to the
            // finish and failed there on SEM's missing tiles; a cluster computes the kernel at the parameters, which
            // was written as an ensemble's mean (review, 2026-12-07)
            if (sem != null && ensemble < 2) {
                throw new IllegalArgumentException("--sem: the standard error of the mean needs --ensemble K with "
                        + "K >= 2, got " + (ensemble == 0 ? "no ensemble" : "--ensemble " + ensemble));
            }
            if (cluster != null && ensemble != 0) {
                throw new IllegalArgumentException("--ensemble: each member's parameters come from its seed; it does "
                        + "not combine with a cluster (--spark, withCluster), got --ensemble " + ensemble);
            }
            if (out == null) {
                throw new IllegalArgumentException("--out: expected the kernel file, got null");
            }
        }

        /**
         * The kernel of {@code kind} into {@code out} with {@code ntk4j kernel --out}'s defaults: the method AUTO
         * within {@link EmpiricalNtk#defaultMemoryBudget()}, the largest tiles that fit, as many tiles at once as
         * the machine has cores, an existing OUT or an unfinished run of it refused ({@link ExistingOutput#REFUSE}),
         * the kernel at {@code params} (no ensemble), computed in this JVM.
         *
         * @param model the network
         * @param params its parameters (not closed)
         * @param x1 the first inputs [N1, ...]; not closed
         * @param x2 the second inputs, or null for x2 = x1
         * @param kind the kernel kind
         * @param out the kernel file
         * @return the request
         * @throws IllegalArgumentException if {@code out} is null
         */
        public static Request of(Model model, Params params, Tensor x1, Tensor x2, KernelKind kind, Path out) {
            return new Request(model, params, x1, x2, kind, Method.AUTO, EmpiricalNtk.defaultMemoryBudget(), 0,
                    Runtime.getRuntime().availableProcessors(), ExistingOutput.REFUSE, out, null, 0, 0, null, null);
        }

        /**
         * This request with another NTK method and memory budget.
         *
         * @param m the method, or AUTO (a resumed run takes the recorded one)
         * @param budget bytes the tiles may hold
         * @return the new request
         */
        public Request withMethod(Method m, long budget) {
            return new Request(model, params, x1, x2, kind, m, budget, tile, threads, existing, out, sem, ensemble,
                    seed, cluster, master);
        }

        /**
         * This request with tiles of another size.
         *
         * @param examples examples per tile (rounded up to the planner's quantum), or 0 for the largest that fits
         * @return the new request
         * @throws IllegalArgumentException if {@code examples} is negative
         */
        public Request withTile(int examples) {
            return new Request(model, params, x1, x2, kind, method, memoryBudget, examples, threads, existing, out,
                    sem, ensemble, seed, cluster, master);
        }

        /**
         * This request computing another number of tiles at once.
         *
         * @param atOnce tiles computed at once, each with one BLAS thread (≥ 1)
         * @return the new request
         * @throws IllegalArgumentException if {@code atOnce} is below 1
         */
        public Request withThreads(int atOnce) {
            return new Request(model, params, x1, x2, kind, method, memoryBudget, tile, atOnce, existing, out, sem,
                    ensemble, seed, cluster, master);
        }

        /**
         * This request doing something else with an existing OUT or an unfinished run of it.
         *
         * @param e {@link ExistingOutput#REFUSE}, {@link ExistingOutput#OVERWRITE} or {@link ExistingOutput#RESUME}
         * @return the new request
         * @throws IllegalArgumentException if {@code e} is null
         */
        public Request withExisting(ExistingOutput e) {
            return new Request(model, params, x1, x2, kind, method, memoryBudget, tile, threads, e, out, sem,
                    ensemble, seed, cluster, master);
        }

        /**
         * This request as the mean of an ensemble of initialisations, seeds {@code firstSeed} ...
         * {@code firstSeed + members − 1}, written to OUT, with its standard error written to {@code semOut};
         * {@code members} 0 for the kernel at the parameters.
         *
         * @param members K ≥ 1 initialisations to average, or 0 for none
         * @param firstSeed the first member's seed
         * @param semOut the file of the standard error of the mean, or null for none
         * @return the new request
         * @throws IllegalArgumentException if {@code members} is negative, {@code semOut} is given with fewer than
         *     2 members, or members are given to a request with a cluster ({@link #withCluster})
         */
        public Request withEnsemble(int members, long firstSeed, Path semOut) {
            return new Request(model, params, x1, x2, kind, method, memoryBudget, tile, threads, existing, out,
                    semOut, members, firstSeed, cluster, master);
        }

        /**
         * This request with its tiles computed on a cluster, or (null) in this JVM.
         *
         * @param service the service computing the tiles on a cluster ({@link ClusterTiles#find}), or null
         * @param masterUrl the cluster's master URL (empty: the environment's); null without a service
         * @return the new request
         * @throws IllegalArgumentException if {@code service} is given to a request with an ensemble (a cluster
         *     computes the kernel at the parameters)
         */
        public Request withCluster(ClusterTiles service, String masterUrl) {
            return new Request(model, params, x1, x2, kind, method, memoryBudget, tile, threads, existing, out, sem,
                    ensemble, seed, service, masterUrl);
        }

        /** Whether the run continues an unfinished run ({@link ExistingOutput#RESUME}). */
        private boolean resumes() {
            return existing == ExistingOutput.RESUME;
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
         * An unfinished run of OUT is being discarded ({@link ExistingOutput#OVERWRITE}).
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

        /**
         * The kernel is finished: OUT (and SEM) hold it, renamed and on disk, and the manifests are still there; a
         * command writes its files of the finished run (a report) here. When this throws, the run stops with the
         * manifests kept, and a resume of it ({@link ExistingOutput#RESUME}) checks the finished files against
         * them, computes no tile, and calls this again, with {@link Result#computed()} 0. Nothing, by default.
         *
         * @param result what the run did
         * @throws IOException if the caller's files cannot be written; the run stays resumable
         */
        default void finished(Result result) throws IOException {
        }
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
     * is there. {@link ExistingOutput#REFUSE}: an unfinished run of OUT (or SEM) is refused, and so is an existing
     * OUT (or SEM); {@link ExistingOutput#OVERWRITE}: neither is; {@link ExistingOutput#RESUME}: there must be an
     * unfinished run, of the same ensemble, and a requested method (not AUTO) or tile size must be the recorded one
     * (a resumed run keeps its method and grid).
     *
     * @param out the kernel file
     * @param sem the standard-error file, or null
     * @param existing what to do with an existing OUT (SEM) or an unfinished run of it
     * @param method the method asked for (AUTO: whatever is recorded)
     * @param tile the tile size asked for, or 0
     * @param ensemble the ensemble's size, or 0 for none
     * @return the locks, which the caller holds through the run and closes
     * @throws IOException if the lock cannot be taken, or the manifest is missing (resume) or corrupt
     * @throws IllegalArgumentException when the request does not match what is there (the message says what to do),
     *     or {@code existing} is null
     */
    public static Claim claim(Path out, Path sem, ExistingOutput existing, Method method, int tile, int ensemble)
            throws IOException {
        if (existing == null) {
            throw new IllegalArgumentException("existing: expected REFUSE, OVERWRITE or RESUME, got null");
        }
        Path kernel = AtomicFile.destination(out);
        TileStore.RunLock first = claim(kernel, "--out", existing, method, tile, ensemble);
        if (sem == null) {
            return new Claim(first, null);
        }
        try {
            Path error = AtomicFile.destination(sem);
            return new Claim(first, existing == ExistingOutput.RESUME && semFinished(kernel, error)
                    ? TileStore.lock(error) : claim(error, "--sem", existing, method, tile, ensemble));
        } catch (IOException | RuntimeException e) {
            first.close();
            throw e;
        }
    }

    /**
     * {@link #claim(Path, Path, ExistingOutput, Method, int, int)} of the request's OUT and SEM, with its method,
     * tile size and ensemble: for a caller that has the request before any work.
     *
     * @param q the run to claim the outputs of
     * @return the locks, which the caller holds through {@link #run} and closes
     * @throws IOException as {@link #claim(Path, Path, ExistingOutput, Method, int, int)}
     * @throws IllegalArgumentException as {@link #claim(Path, Path, ExistingOutput, Method, int, int)}
     */
    public static Claim claim(Request q) throws IOException {
        return claim(q.out(), q.sem(), q.existing(), q.method(), q.tile(), q.ensemble());
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

    private static TileStore.RunLock claim(Path out, String option, ExistingOutput existing, Method requested,
                                           int tile, int ensemble) throws IOException {
        Path manifest = TileStore.manifestPath(out);
        Path partial = TileStore.partialPath(out);
        TileStore.RunLock lock = TileStore.lock(out);
        try {
            if (existing == ExistingOutput.RESUME) {
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
            } else if (existing == ExistingOutput.REFUSE) {
                refuseWhatIsThere(out, option);
            }
            return lock;
        } catch (IOException | RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    /**
     * {@link ExistingOutput#REFUSE}: refuses an unfinished run of {@code out} and an existing {@code out} (the
     * command line refused the latter already, {@link OutputFiles}, as this message does; a program's REFUSE keeps
     * a finished kernel as well as an unfinished run).
     *
     * @param out the kernel or standard-error file (a link's target)
     * @param option the option that names it, for the message
     */
    private static void refuseWhatIsThere(Path out, String option) {
        Path manifest = TileStore.manifestPath(out);
        Path partial = TileStore.partialPath(out);
        if (Files.exists(manifest)) {
            throw new IllegalArgumentException(out + " has an unfinished run (" + (Files.exists(partial)
                    ? partial + ", " + manifest : manifest + ", left by a finish that was cut short")
                    + "); pass --resume to continue it, or --overwrite to discard it and start again");
        }
        if (Files.exists(partial)) {
            throw new IllegalArgumentException(partial + " is left from an unfinished run that cannot be resumed "
                    + "(no " + manifest + "); pass --overwrite to discard it and start again");
        }
        if (Files.exists(out)) {
            throw new IllegalArgumentException(option + " " + out + " exists; pass --overwrite to replace it");
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
     * @throws IllegalArgumentException if the tiles do not fit the budget (a resumed run: its recorded tiles), or,
     *     with {@link ExistingOutput#REFUSE}, OUT or SEM or an unfinished run of them is there (as {@link #claim}
     *     refuses it)
     */
    public static Result run(Request q, Events events) throws IOException {
        // a link named as OUT or SEM: its target is written, the run's files beside it (AtomicFile.destination)
        Path out = AtomicFile.destination(q.out());
        Path sem = q.sem() == null ? null : AtomicFile.destination(q.sem());
        if (q.existing() == ExistingOutput.REFUSE) {
            // as the claim refuses them (a caller that skipped it would otherwise discard or replace them)
            refuseWhatIsThere(out, "--out");
            if (sem != null) {
                refuseWhatIsThere(sem, "--sem");
            }
        }
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
        if (q.resumes()) {
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
            if (!q.resumes()) {
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
        if (!q.resumes() && (TileStore.unfinished(out) || Files.exists(TileStore.partialPath(out)))) {
            events.discarding(out);
        }
        // SEM finished by a run killed before it removed OUT's manifest: only OUT's store, all of its tiles done
        boolean semDone = q.resumes() && sem != null && semFinished(out, sem);
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
        if (q.resumes()) {
            // another run's manifest is refused before the caller writes its own files (planned: --params-out)
            TileStore.requireSameRun(out, plan, fingerprint, parts);
            if (sem != null && !semDone) {
                TileStore.requireSameRun(sem, plan, semFingerprint, parts);
            }
        }
        if (sem != null) {
            // OUT.partial and SEM.partial, sparse at first, must fit together (each store checks itself alone);
            // before the caller's files (planned: --params-out), so that a refused run leaves none. A resumed run
            // needs only the tiles its manifests do not record, in both files together
            if (q.resumes()) {
                TileStore.requireSpaceToResume(semDone ? List.of(out) : List.of(out, sem), plan);
            } else {
                TileStore.requireSpace(List.of(out, sem), plan);
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
        List<TileStore> finished;
        try (TileStore store = q.resumes() ? TileStore.resume(out, plan, fingerprint, parts)
                : TileStore.create(out, plan, fingerprint, parts);
             TileStore semStore = sem == null || semDone ? null : q.resumes()
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
            finished = semStore == null ? List.of(store) : List.of(store, semStore);
            TileStore.renameAll(finished);
        } finally {
            Blas.setThreads(blasBefore);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        Result r = new Result(q, plan, seconds, Tensor.peakBytes(), counted.flops(), counted.computed(), alreadyDone,
                org.ntk4j.graph.FlopCount.total() - flopsBefore, cacheBytes);
        // the caller's files of the finished run (a report) before the manifests go: one that cannot be written
        // leaves OUT (and SEM) renamed with their manifests, which --resume checks and completes, computing no tile
        events.finished(r);
        TileStore.removeManifests(finished);
        return r;
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
