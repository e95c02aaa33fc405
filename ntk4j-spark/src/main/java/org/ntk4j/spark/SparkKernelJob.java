package org.ntk4j.spark;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext$;
import org.apache.spark.SparkEnv;
import org.apache.spark.SparkException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.rdd.RDD;
import org.bytedeco.javacpp.Pointer;
import org.ntk4j.cpu.Blas;
import org.ntk4j.io.AtomicFile;
import org.ntk4j.io.ExistingOutput;
import org.ntk4j.io.RunFingerprint;
import org.ntk4j.io.TileStore;
import org.ntk4j.io.TiledKernelRun;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.ClusterTiles;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.ntk.NonFiniteKernelException;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.ntk.TiledKernel;
import org.ntk4j.tensor.Tensor;
import scala.collection.Iterator;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction2;
import scala.runtime.BoxedUnit;

/**
 * A tiled kernel computed on a Spark cluster: the same {@link TilePlan} as a local run, the same
 * {@link TileStore} files ({@code OUT.partial} + {@code OUT.manifest}, then {@code OUT}), so a run started locally
 * can be resumed on Spark and the other way round.
 *
 * <p>How the work is shared out and committed:
 * <ol>
 *   <li>The driver plans (the caller passes the plan), creates or resumes the store, and broadcasts what every
 *       task needs once: the model spec, the parameters, x1 and x2 (exact copies), the plan and the output path.
 *       Tasks that run in the driver's JVM (local mode) read the driver's own parameters, x1 and x2 instead
 *       ({@link DriverInputs}), so that the inputs are held once, as in a local run.</li>
 *   <li>The tiles still to do are cut into groups of consecutive tiles of one row of the grid, one Spark task
 *       per group (about three per core of the executors registered when the job starts), so a task prepares its
 *       row tile (forward pass, cotangents) once and reuses it for every block of its group
 *       ({@link TiledKernel#run}, on one worker: the parallelism is Spark's tasks, as many at once as the
 *       executor's cores and memory allow, {@link TaskShare}).</li>
 *   <li>A task writes each block straight into {@code OUT.partial} at its place (the path must be one every
 *       executor and the driver reach, e.g. a shared volume on a cluster; any local path for {@code local[k]}),
 *       forces it to disk ({@link TileStore#writeData}) and returns the blocks' checksums. It never touches the
 *       manifest.</li>
 *   <li>The driver records a group's tiles in the manifest when Spark hands it that task's result, which it does
 *       once per group and only for an attempt that succeeded ({@code SparkContext.runJob}'s result handler).</li>
 * </ol>
 * So a lost or retried task (a failed attempt, a killed executor, a speculative copy) never corrupts or duplicates
 * a tile: every attempt writes the same bytes to the same places, a block an attempt did not finish is never
 * recorded and is overwritten by the attempt that succeeds, and a tile is recorded once. A driver killed mid-run
 * leaves a manifest of the tiles whose tasks had succeeded and, in {@code OUT.journal/}, a note of every tile a task
 * had finished ({@link TileStore#journal}), which {@code --resume} (local or Spark) records where the file still
 * holds the bytes noted: no finished tile is computed again. At the end the driver re-opens the files (re-reading
 * them as a fresh reader, as a shared file system requires), checks every tile against its checksum and renames
 * {@code OUT.partial} to {@code OUT}.
 *
 * <p>Exactness: each block is computed by the same code from the same bits, with the same shapes and the plan's
 * BLAS threads, as in a local run of the same plan ({@link TiledKernel}; blocks do not depend on the grouping, the
 * executor or the tasks beside them), so the file is bit for bit the local run's, given the same OpenBLAS kernels
 * (the driver's {@code OPENBLAS_CORETYPE} goes to the executors, {@link SparkClusterTiles}).
 */
public final class SparkKernelJob {
    /**
     * Fault injection for the tests: a setting (Spark configuration or the driver thread's local property) naming
     * one tile index; the first attempt of the task that holds it writes a wrong block (the right one plus 1) for
     * it and then fails, so the retry must repair it.
     */
    public static final String FAIL_FIRST_ATTEMPT = "spark.ntk4j.test.failFirstAttemptOfTile";
    /**
     * Setting (Spark configuration or local property): tiles per task (default 0: about three tasks per core of
     * the executors registered when the job starts, within rows).
     */
    public static final String TILES_PER_TASK = "spark.ntk4j.tilesPerTask";

    /** Told on the driver of each group of tiles recorded in the manifest. */
    @FunctionalInterface
    public interface Listener {
        /**
         * Called, on the driver and one call at a time, after a task's tiles were recorded in the manifest. An
         * exception thrown here stops the job and is rethrown by {@link #compute}.
         *
         * @param tiles the indices of the tiles just recorded (one task's group)
         * @param finished tiles finished so far, counting those of earlier runs
         * @param total the number of tiles in the plan
         */
        void recorded(int[] tiles, int finished, int total);
    }

    /** What a run did. */
    public static final class Summary {
        private final int tasks;
        private final int tilesPerTask;
        private final int tilesComputed;
        private final int tilesResumed;
        private final double seconds;
        private final Map<String, Integer> executorCores;

        Summary(int tasks, int tilesPerTask, int tilesComputed, int tilesResumed, double seconds,
                Map<String, Integer> executorCores) {
            this.tasks = tasks;
            this.tilesPerTask = tilesPerTask;
            this.tilesComputed = tilesComputed;
            this.tilesResumed = tilesResumed;
            this.seconds = seconds;
            this.executorCores = java.util.Collections.unmodifiableMap(new TreeMap<>(executorCores));
        }

        /**
         * Spark tasks run.
         *
         * @return the number of groups of tiles, one task each; 0 when nothing was left to do
         */
        public int tasks() {
            return tasks;
        }

        /**
         * The most tiles of a task (a task's tiles are consecutive tiles of one row of the grid).
         *
         * @return the tiles of the largest task: at most the setting {@link #TILES_PER_TASK}, or the number chosen
         *     for about three tasks per core, and at most a row of the grid; that number when nothing was left to do
         */
        public int tilesPerTask() {
            return tilesPerTask;
        }

        /**
         * The executors registered when the job started, and their cores (in local mode the driver, with
         * local[k]'s k); the job's tasks were sized from them.
         *
         * @return executor id → cores, sorted by id; empty when Spark did not say
         */
        public Map<String, Integer> executorCores() {
            return executorCores;
        }

        /**
         * Tiles computed by this run.
         *
         * @return the tiles computed and recorded by this run
         */
        public int tilesComputed() {
            return tilesComputed;
        }

        /**
         * Tiles already finished by an earlier run (resumed).
         *
         * @return the tiles the store held finished before this run
         */
        public int tilesResumed() {
            return tilesResumed;
        }

        /**
         * Wall time of the Spark job.
         *
         * @return seconds; 0 when nothing was left to do
         */
        public double seconds() {
            return seconds;
        }
    }

    private SparkKernelJob() {
    }

    /**
     * The whole run: claims {@code out} ({@link TiledKernelRun#claim}: its lock, and what {@code existing} says of
     * an existing OUT or an unfinished run of it), creates the store at {@code out} (or resumes it), computes every
     * unfinished tile on the cluster of {@code sc}, and finishes the store (OUT.partial renamed to OUT).
     *
     * @param sc the Spark context whose cluster computes the tiles
     * @param modelSpec the zoo or ONNX spec of the model, as {@link org.ntk4j.onnx.OnnxSpec#parseModel} reads it
     *     (executors rebuild the model; an ONNX file must be at the same path on every executor)
     * @param params the network parameters; left open
     * @param x1 the first data set [N1, ...]; left open
     * @param x2 null when the plan is symmetric (x2 = x1)
     * @param plan the tile grid, kernel shape and dtype
     * @param out the output file, on a path that the driver and every executor reach; a symbolic link: its target
     *     (the run's files beside it, the link left), as {@link TiledKernelRun#run} writes it
     * @param existing {@link ExistingOutput#REFUSE} to start a new run only where neither OUT nor an unfinished run
     *     of it is, {@link ExistingOutput#OVERWRITE} to start one whatever is there (an existing OUT is replaced
     *     when the run finishes), {@link ExistingOutput#RESUME} to continue the unfinished run at {@code out}
     * @param listener told of each group recorded; may be null
     * @return what the run did
     * @throws IOException if OUT is locked by another run, the store cannot be created, resumed or finished, the
     *     Spark job fails, or recording a tile fails; the files of an unfinished run are then left for
     *     {@code --resume}
     * @throws IllegalArgumentException if {@code existing} refuses what is at {@code out} (the message names the
     *     command line's {@code --resume} and {@code --overwrite}: {@link ExistingOutput#RESUME} and
     *     {@link ExistingOutput#OVERWRITE}), or the model is an ONNX model of token ids and x1 or x2 holds an id
     *     it cannot take ({@link #checkIds}), or x1, x2 or a parameter holds NaN or ±∞ ({@link #checkFinite}),
     *     before any file is written
     */
    public static Summary run(JavaSparkContext sc, String modelSpec, Params params, Tensor x1, Tensor x2,
                              TilePlan plan, Path out, ExistingOutput existing, Listener listener)
            throws IOException {
        checkFinite(params, x1, x2);
        checkIds(modelSpec, x1, x2);
        String fingerprint = RunFingerprint.of(modelSpec, params, x1, x2);
        // the parts' fingerprints too, so that a refused --resume names the input that differs, as a local run's
        String parts = RunFingerprint.parts(modelSpec, params, x1, x2);
        Summary s;
        // a link named as OUT: its target is written, the run's files beside it, as TiledKernelRun.run and the claim
        // (which checks the target's files) take it; the store at the link's own name made RESUME find no manifest
        // and the finish rename OUT.partial over the link (review, 2026-12-07)
        Path file = AtomicFile.destination(out);
        // the plan's method and tiles are this run's; a resumed manifest's are checked against them by the store
        try (TiledKernelRun.Claim claim = TiledKernelRun.claim(file, null, existing, Method.AUTO, 0, 0)) {
            try (TileStore store = existing == ExistingOutput.RESUME ? TileStore.resume(file, plan, fingerprint, parts)
                    : TileStore.create(file, plan, fingerprint, parts)) {
                s = computeChecked(sc, modelSpec, params, x1, x2, store, file, listener);
            }
            finish(file, plan, fingerprint);
        }
        return s;
    }

    /**
     * Refuses, on the driver and before any work, data that an ONNX model of integer input (token ids,
     * {@link org.ntk4j.onnx.OnnxModel#idInput}) cannot take, as the CLI refuses its {@code --data} and {@code --x2}:
     * {@link org.ntk4j.onnx.OnnxModel#checkIds} names the data ({@code x1}, {@code x2}), the example, the id and the
     * table in one line. Unchecked, the executors' model gives NaN for an id out of range, and the run fails later
     * as a kernel that is not finite. A zoo model, or an ONNX model of floating input, has nothing to check.
     *
     * @param modelSpec the zoo or ONNX spec of the model
     * @param x1 the first data set
     * @param x2 the second, or null
     * @throws IllegalArgumentException for the first id the model cannot take
     */
    static void checkIds(String modelSpec, Tensor x1, Tensor x2) {
        if (!org.ntk4j.onnx.OnnxSpec.isOnnx(modelSpec)) {
            return;
        }
        org.ntk4j.onnx.OnnxModel onnx = org.ntk4j.onnx.OnnxSpec.parse(modelSpec).load();
        onnx.checkIds("x1", x1);
        if (x2 != null) {
            onnx.checkIds("x2", x2);
        }
    }

    /**
     * Re-opens the store at {@code out} as a fresh reader (on a shared file system this revalidates what the
     * executors wrote), checks every tile against its checksum and renames OUT.partial to OUT.
     *
     * @param out the output file
     * @param plan the run's tile grid, kernel shape and dtype
     * @param fingerprint the run's fingerprint ({@link RunFingerprint#of})
     * @return OUT
     * @throws IOException if the manifest does not describe this run, or a tile is missing or corrupt, or the
     *     files cannot be renamed
     */
    public static Path finish(Path out, TilePlan plan, String fingerprint) throws IOException {
        try (TileStore fresh = TileStore.resume(out, plan, fingerprint)) {
            return fresh.finish();
        }
    }

    /**
     * Computes on the cluster of {@code sc} every tile of {@code store.plan()} not finished in {@code store}, and
     * records each group in {@code store} as its task succeeds. Does not finish the store.
     *
     * @param sc the Spark context whose cluster computes the tiles
     * @param modelSpec the zoo or ONNX spec of the model, as {@link org.ntk4j.onnx.OnnxSpec#parseModel} reads it
     *     (executors rebuild the model; an ONNX file must be at the same path on every executor)
     * @param params the network parameters; copied for the broadcast, read by the tasks of this JVM (local mode)
     *     until the job has ended (this method returns once none reads them), left open
     * @param x1 the first data set [N1, ...]; likewise
     * @param x2 the second data set, or null when the plan is symmetric (x2 = x1); likewise
     * @param store the run's ledger: its {@link org.ntk4j.io.TileStore}, created or resumed by the caller (not
     *     opened for data only), which stays open
     * @param out the store's output path, as the executors reach it
     * @param listener told of each group recorded; may be null
     * @return what the run did
     * @throws IOException if the Spark job fails ("spark: the kernel job failed: ...") or recording a tile in the
     *     manifest fails
     * @throws IllegalArgumentException if the model is an ONNX model of token ids and x1 or x2 holds an id it
     *     cannot take ({@link #checkIds}), or x1, x2 or a parameter holds NaN or ±∞ ({@link #checkFinite}), before
     *     any tile is computed
     */
    public static Summary compute(JavaSparkContext sc, String modelSpec, Params params, Tensor x1, Tensor x2,
                                  ClusterTiles.TileLedger store, Path out, Listener listener) throws IOException {
        checkFinite(params, x1, x2);
        checkIds(modelSpec, x1, x2);
        return computeChecked(sc, modelSpec, params, x1, x2, store, out, listener);
    }

    /**
     * Refuses, on the driver and before any work, NaN or ±∞ in the inputs or parameters, in one line naming the
     * tensor ({@code x1}, {@code x2}, {@code parameters: 'NAME'}), the value and its flat index, in the words of a
     * local run's kernel call ({@link Params#requireFinite}). Unchecked, every task holding such an example failed
     * its attempts on the executors (naming its column tile's inputs {@code x1} whichever data set held the value),
     * and the run ended in "spark: the kernel job failed" with its files left for a {@code --resume} that could not
     * finish. Cheap: a tensor scanned
     * once is known finite until written ({@link org.ntk4j.cpu.Reduce#firstNonFiniteUnlessKnown}).
     *
     * @param params the parameters
     * @param x1 the first data set
     * @param x2 the second, or null
     * @throws IllegalArgumentException for the first tensor that holds NaN or ±∞
     */
    static void checkFinite(Params params, Tensor x1, Tensor x2) {
        org.ntk4j.cpu.Reduce.requireFinite("x1", x1);
        if (x2 != null) {
            org.ntk4j.cpu.Reduce.requireFinite("x2", x2);
        }
        params.requireFinite();
    }

    /** {@link #compute} of data already checked ({@link #checkFinite}, {@link #checkIds}). */
    private static Summary computeChecked(JavaSparkContext sc, String modelSpec, Params params, Tensor x1, Tensor x2,
                                          ClusterTiles.TileLedger store, Path out, Listener listener)
            throws IOException {
        TilePlan plan = store.plan();
        Set<Integer> finished = store.finishedTiles();
        Map<String, Integer> executors = ClusterExecutors.cores(sc.sc());
        int taskCpus = Math.max(1, sc.getConf().getInt("spark.task.cpus", 1));
        int perTask = tilesPerTask(setting(sc, TILES_PER_TASK, 0), plan.tileCount() - finished.size(),
                slots(executors, taskCpus, sc.defaultParallelism()));
        List<int[]> groups = groups(plan, finished, perTask);
        long start = System.nanoTime();
        if (groups.isEmpty()) {
            return new Summary(0, perTask, 0, finished.size(), 0, executors);
        }
        // a tag of this job's own, to cancel its remaining tasks when it stops early (and to name its tasks' turns)
        String tag = "ntk4j-kernel-" + java.util.UUID.randomUUID();
        TaskInputs inputs = new TaskInputs(modelSpec, RunFingerprint.ofModel(modelSpec), TensorData.of(
                params.tensors()), TensorData.of(params.buffers()),
                TensorData.of(x1), TensorData.of(x2), plan, out.toAbsolutePath().toString(),
                store.run(), setting(sc, FAIL_FIRST_ATTEMPT, -1), tag, new TreeMap<>(executors), taskCpus);
        Broadcast<TaskInputs> shared = sc.broadcast(inputs);
        int[] done = {finished.size()};
        RecordGroup recorder = new RecordGroup(store, listener, done, plan.tileCount());
        int blasBefore = Blas.threads();
        // tasks in this JVM (local mode) read the driver's tensors instead of copies of their own, so the inputs are
        // held once, as in a local run; closed (waiting out the tasks that read them) before the caller may close them
        DriverInputs.Registration registered = DriverInputs.register(tag, params, x1, x2);
        try {
            sc.sc().addJobTag(tag); // inside: whatever happens after the registration, the finally closes it
            RDD<int[]> rdd = sc.parallelize(groups, groups.size()).rdd();
            List<Object> partitions = new ArrayList<>();
            for (int i = 0; i < groups.size(); i++) {
                partitions.add(i);
            }
            sc.sc().runJob(rdd, new ComputeGroup(shared),
                    scala.jdk.javaapi.CollectionConverters.asScala(partitions).toSeq(), recorder, LONGS);
        } catch (Exception e) { // Scala declares no checked exceptions: SparkException arrives undeclared
            // Spark fails the job when the result handler throws but lets the stage's other tasks run on and
            // delivers their results: stop recording (waiting out a record in progress, which holds the
            // manifest's lock) before the caller may close or reopen the store, and cancel what still runs (a
            // stopped context has nothing left to cancel, and refuses the call)
            recorder.stop();
            // SIGINT or SIGTERM: Spark's shutdown hook stopped the context under the job (and may have interrupted
            // a record); the caller's own hook says what happened, and what it caused is not news
            awaitHaltIfExiting();
            boolean stopped = sc.sc().isStopped();
            if (!stopped) {
                sc.sc().cancelJobsWithTag(tag);
            }
            if (recorder.failure instanceof IOException) {
                throw (IOException) recorder.failure; // recording in the manifest failed, which stopped the job
            }
            if (recorder.failure instanceof RuntimeException) {
                throw (RuntimeException) recorder.failure; // so did the listener
            }
            throw jobFailure(e, stopped);
        } finally {
            sc.sc().removeJobTag(tag);
            registered.close();
            if (!sc.sc().isStopped()) {
                shared.destroy();
            }
            Blas.setThreads(blasBefore); // local[k] tasks ran in this JVM
        }
        int computed = done[0] - finished.size();
        // the largest task's tiles: groups stop at the end of a grid row, so the setting (or the number chosen)
        // may exceed every task's (the log line said "tasks of at most 135 tiles" for rows of 50)
        int largest = groups.stream().mapToInt(g -> g.length).max().orElse(perTask);
        return new Summary(groups.size(), largest, computed, finished.size(), (System.nanoTime() - start) / 1e9,
                executors);
    }

    /**
     * The failure of a job that Spark failed, as ntk4j reports it: a tile that is not finite as the same refusal
     * as a local run's (no run of the command can finish; the CLI then discards its files), a task out of memory
     * as an {@link OutOfMemoryError}, a context stopped under the job (its master lost, say) as such, anything else
     * as an IOException naming the executor's error.
     */
    static IOException jobFailure(Exception e, boolean stopped) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof NonFiniteKernelException) {
                throw (NonFiniteKernelException) t;
            }
            if (t instanceof TaskShare.OutOfMemory) {
                throw new OutOfMemoryError("spark: " + t.getMessage());
            }
        }
        if (stopped) {
            return new IOException("spark: the Spark application stopped before the kernel job finished: "
                    + rootMessage(e), e);
        }
        if (e instanceof SparkException || !(e instanceof RuntimeException)) {
            return new IOException("spark: the kernel job failed: " + rootMessage(e), e);
        }
        throw (RuntimeException) e;
    }

    /**
     * Returns unless the JVM runs its shutdown hooks (SIGINT, SIGTERM); then waits for it to halt, so that a failure
     * the exit caused (Spark's hook stops the context) adds nothing to what the caller's own hook says.
     */
    static void awaitHaltIfExiting() {
        Thread probe = new Thread(() -> { });
        try {
            Runtime.getRuntime().addShutdownHook(probe);
            Runtime.getRuntime().removeShutdownHook(probe);
            return;
        } catch (IllegalStateException exiting) {
            // the hooks are running
        }
        while (true) {
            try {
                Thread.sleep(Long.MAX_VALUE);
            } catch (InterruptedException e) {
                // the JVM halts once its hooks have run
            }
        }
    }

    /** The innermost message of a failure, which names what went wrong on the executor. */
    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String m = t.getMessage() != null ? t.getMessage() : t.toString();
        return t == e ? m : m + " (" + firstLine(e.getMessage()) + ")";
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** An integer setting: the driver thread's local property, else the Spark configuration, else {@code def}. */
    private static int setting(JavaSparkContext sc, String key, int def) {
        String v = sc.getLocalProperty(key);
        return parseSetting(key, v != null ? v : sc.getConf().get(key, Integer.toString(def)));
    }

    /**
     * Checks the job's settings in a Spark configuration ({@link #TILES_PER_TASK}, {@link #FAIL_FIRST_ATTEMPT}),
     * as the job will read them.
     *
     * @param conf the configuration, before a context is made of it
     * @throws IllegalArgumentException naming the setting that is not valid
     */
    static void checkSettings(SparkConf conf) {
        for (String key : new String[] {TILES_PER_TASK, FAIL_FIRST_ATTEMPT}) {
            if (conf.contains(key)) {
                parseSetting(key, conf.get(key));
            }
        }
    }

    private static int parseSetting(String key, String v) {
        int value;
        try {
            value = Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + ": expected an integer, got '" + v + "'");
        }
        if (key.equals(TILES_PER_TASK) && value < 0) {
            throw new IllegalArgumentException(TILES_PER_TASK + ": expected 0 (automatic) or a positive number, got "
                    + value);
        }
        return value;
    }

    /**
     * The tasks Spark runs at once on the executors: their cores over {@code spark.task.cpus}, or Spark's
     * default parallelism when it does not say (none registered yet, as under dynamic allocation).
     */
    static int slots(Map<String, Integer> executorCores, int taskCpus, int defaultParallelism) {
        int slots = 0;
        for (int cores : executorCores.values()) {
            slots += Math.max(1, cores / taskCpus);
        }
        return slots > 0 ? slots : Math.max(1, defaultParallelism);
    }

    /**
     * Tiles per task: the setting when positive, else as many as make about three tasks per slot (so that a
     * slot that finishes early takes another task, and a lost executor costs little).
     */
    static int tilesPerTask(int configured, int pending, int slots) {
        if (configured > 0) {
            return configured;
        }
        int target = 3 * Math.max(1, slots);
        return Math.max(1, (pending + target - 1) / target);
    }

    /**
     * The unfinished tiles in plan order, cut into groups of at most {@code perTask} consecutive tiles of the same
     * row of the grid (a group shares its row tile's prepared work).
     */
    static List<int[]> groups(TilePlan plan, Set<Integer> finished, int perTask) {
        List<int[]> groups = new ArrayList<>();
        List<Integer> current = new ArrayList<>();
        int row = -1;
        for (TilePlan.Tile t : plan.tiles()) {
            if (finished.contains(t.index())) {
                continue;
            }
            if (!current.isEmpty() && (t.row() != row || current.size() == perTask)) {
                groups.add(current.stream().mapToInt(Integer::intValue).toArray());
                current.clear();
            }
            row = t.row();
            current.add(t.index());
        }
        if (!current.isEmpty()) {
            groups.add(current.stream().mapToInt(Integer::intValue).toArray());
        }
        return groups;
    }

    /**
     * The tiles {@code 0 .. tiles - 1} but {@code group}, for a task to skip: a view that holds only the group, since a
     * plan of small tiles has millions (50,000 examples in tiles of 16: 4.9 million), and a set of them all cost every
     * task hundreds of MB of heap and a second of work.
     *
     * @param tiles the plan's tile count
     * @param group the task's tiles, distinct, each in range
     * @return an unmodifiable set of every other tile
     */
    static Set<Integer> allBut(int tiles, int[] group) {
        Set<Integer> mine = new HashSet<>();
        for (int t : group) {
            mine.add(t);
        }
        return new java.util.AbstractSet<>() {
            @Override
            public boolean contains(Object o) {
                return o instanceof Integer i && i >= 0 && i < tiles && !mine.contains(i);
            }

            @Override
            public int size() {
                return tiles - mine.size();
            }

            @Override
            public java.util.Iterator<Integer> iterator() {
                return java.util.stream.IntStream.range(0, tiles).filter(i -> !mine.contains(i)).boxed().iterator();
            }
        };
    }

    @SuppressWarnings("unchecked")
    private static final ClassTag<long[]> LONGS = (ClassTag<long[]>) (ClassTag<?>) ClassTag$.MODULE$.apply(
            long[].class);

    /** Broadcast once per job: everything a task needs besides its group of tiles. */
    static final class TaskInputs implements Serializable {
        private static final long serialVersionUID = 1L;
        final String modelSpec;
        /**
         * The driver's {@link RunFingerprint#ofModel} of the spec: an executor that rebuilds another model from it
         * (an ONNX file that differs at that path on its machine, or was replaced during the run) fails its task.
         */
        final String modelFingerprint;
        final Map<String, TensorData> params;
        /** The model's buffers (batch norms' running statistics) that the parameters carry; executors apply them. */
        final Map<String, TensorData> buffers;
        final TensorData x1;
        final TensorData x2;
        final TilePlan plan;
        final String out;
        /**
         * The driver's run ({@link ClusterTiles.TileLedger#run}): a task finding {@code OUT.manifest} another run's
         * (started again with other inputs after this driver was killed) fails instead of writing into its file.
         */
        final String run;
        final int failFirstAttemptOfTile;
        /** The job's tag, which names its tasks' turns in an executor ({@link TaskShare}). */
        final String job;
        /** The executors registered when the job started, and their cores. */
        final TreeMap<String, Integer> executorCores;
        /** Spark's cores per task. */
        final int taskCpus;

        TaskInputs(String modelSpec, String modelFingerprint, Map<String, TensorData> params,
                   Map<String, TensorData> buffers, TensorData x1, TensorData x2, TilePlan plan, String out,
                   String run, int failFirstAttemptOfTile, String job, TreeMap<String, Integer> executorCores,
                   int taskCpus) {
            this.modelSpec = modelSpec;
            this.modelFingerprint = modelFingerprint;
            this.params = params;
            this.buffers = buffers;
            this.x1 = x1;
            this.x2 = x2;
            this.plan = plan;
            this.out = out;
            this.run = run;
            this.failFirstAttemptOfTile = failFirstAttemptOfTile;
            this.job = job;
            this.executorCores = executorCores;
            this.taskCpus = taskCpus;
        }
    }

    /**
     * The task: computes a group of tiles and writes them into OUT.partial; returns (tile, checksum) pairs,
     * flattened. Runs on an executor.
     */
    private static final class ComputeGroup extends AbstractFunction2<TaskContext, Iterator<int[]>, long[]>
            implements Serializable {
        private static final long serialVersionUID = 1L;
        private final Broadcast<TaskInputs> shared;

        ComputeGroup(Broadcast<TaskInputs> shared) {
            this.shared = shared;
        }

        @Override
        public long[] apply(TaskContext context, Iterator<int[]> partition) {
            String executor = SparkEnv.get().executorId();
            TaskInputs in;
            try {
                in = shared.value();
            } catch (OutOfMemoryError e) { // as a failed task, not an executor killed: the driver says so
                throw new TaskShare.OutOfMemory("executor " + executor + " ran out of memory reading the job's "
                        + "inputs (" + e.getMessage() + "); give executors more memory (spark.executor.memory)");
            }
            int[] group = partition.next();
            // in local mode the executor is the driver's JVM, whose inputs the tasks read (DriverInputs): held
            // once, as in the local run; a task of another JVM finds none and computes from its own copy
            boolean local = DriverInputs.registered(in.job);
            // one worker per task, as many tasks computing at once as the executor's cores and memory allow
            TaskShare share = TaskShare.of(in.plan, executor, in.executorCores.getOrDefault(executor,
                    Runtime.getRuntime().availableProcessors()), in.taskCpus, Pointer.maxBytes(),
                    local || executor.equals(SparkContext$.MODULE$.DRIVER_IDENTIFIER()) ? in.plan.inputBytes() : 0,
                    local, local ? 0 : TensorData.uncountedCopyBytes(in.params, in.buffers));
            return share.run(in.job, context, () -> {
                // as in the local run: the plan's BLAS threads per tile (TilePlan.blasThreads: a GEMM split over
                // threads is computed in blocks whose bits may depend on their size, so a tile's bits would
                // otherwise depend on the thread count); TaskShare keeps tasks × threads within the cores. In
                // local mode this sets the driver JVM's BLAS, which compute() restores.
                Blas.setThreads(in.plan.blasThreads());
                // taken once the task may compute, so that a task waiting for its turn holds nothing the driver
                // waits for
                try (DriverInputs.Lease lease = local ? DriverInputs.lease(in.job) : null) {
                    if (local && lease == null) {
                        throw new IllegalStateException("the kernel job " + in.job + " ended before this task "
                                + "computed");
                    }
                    return compute(in, lease, share.plan(), group, context.attemptNumber());
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }

        /**
         * Computes the group from the driver's inputs ({@code lease}, local mode: read, never closed) or, when
         * null, from copies of the broadcast ones.
         */
        private static long[] compute(TaskInputs in, DriverInputs.Lease lease, TilePlan taskPlan, int[] group,
                                      int attempt) throws IOException {
            TilePlan plan = in.plan;
            long[] result = new long[2 * group.length];
            int[] n = {0};
            Model spec = org.ntk4j.onnx.OnnxSpec.parseModel(in.modelSpec);
            // after the model is read: the file it was read from is the driver's (an ONNX file replaced between
            // the two reads is refused too), else this task's tiles would be another kernel's, recorded as the run's
            if (!RunFingerprint.ofModel(in.modelSpec).equals(in.modelFingerprint)) {
                throw new IllegalStateException("the model " + in.modelSpec + " that this executor reads is not the "
                        + "driver's: its file's bytes differ (every executor must read the same file at that path, "
                        + "unchanged during the run)");
            }
            try (Params own = lease == null ? TensorData.toParams(in.params, in.buffers) : null;
                 Tensor ownX1 = lease == null ? in.x1.toTensor() : null;
                 Tensor ownX2 = lease == null && in.x2 != null ? in.x2.toTensor() : null;
                 TileStore data = TileStore.openData(Path.of(in.out), plan, in.run)) {
                int[] todo = group;
                if (attempt > 0) {
                    // a retry: the tiles an earlier attempt finished and noted, which the file still holds, are
                    // taken as they are (an executor lost half-way through a task of 40 tiles cost all 40 again)
                    Set<Integer> mine = new HashSet<>();
                    for (int t : group) {
                        mine.add(t);
                    }
                    Map<Integer, Long> done = data.journalled(mine);
                    for (Map.Entry<Integer, Long> e : done.entrySet()) {
                        result[2 * n[0]] = e.getKey();
                        result[2 * n[0] + 1] = e.getValue();
                        n[0]++;
                    }
                    todo = java.util.Arrays.stream(group).filter(t -> !done.containsKey(t)).toArray();
                }
                Set<Integer> others = allBut(plan.tileCount(), todo);
                Params params = lease == null ? own : lease.params();
                Tensor x1 = lease == null ? ownX1 : lease.x1();
                Tensor x2 = lease == null ? ownX2 : lease.x2();
                // the spec rebuilds the layers; the running statistics of a parameter file travel with the parameters
                Model model = params.buffers().isEmpty() ? spec : spec.withBuffers(params.buffers());
                EmpiricalNtk ntk = EmpiricalNtk.of(model, params).memoryBudget(plan.budgetBytes());
                TiledKernel tiles = new TiledKernel(ntk, taskPlan, x1, x2);
                tiles.run(others, (tile, block) -> {
                    if (lease != null && lease.ended()) {
                        // the job has ended (failed or cancelled): the driver waits for this task to let go of its
                        // inputs before they may be closed
                        throw new IllegalStateException("the kernel job " + in.job + " ended while this task "
                                + "computed");
                    }
                    if (attempt == 0 && tile.index() == in.failFirstAttemptOfTile) {
                        injectFailure(data, tile, block);
                    }
                    long crc = data.writeData(tile, block);
                    // noted at once (OUT.journal), so that a driver killed before this task ends loses none of the
                    // tiles the task finished: a resumed run records them from the note where the file holds them
                    data.journal(tile, crc);
                    synchronized (result) {
                        result[2 * n[0]] = tile.index();
                        result[2 * n[0] + 1] = crc;
                        n[0]++;
                    }
                }, null);
            }
            if (n[0] != group.length) {
                throw new IllegalStateException("task: computed " + n[0] + " of its " + group.length + " tiles");
            }
            return result;
        }

        /** Writes a wrong block where the tile goes, then fails the attempt (see {@link #FAIL_FIRST_ATTEMPT}). */
        private static void injectFailure(TileStore data, TilePlan.Tile tile, Tensor block) throws IOException {
            try (Tensor wrong = block.copy()) {
                for (int i = 0; i < wrong.size(); i++) {
                    wrong.setFlat(i, wrong.getFlat(i) + 1);
                }
                data.writeData(tile, wrong);
            }
            throw new IllegalStateException("injected failure (" + FAIL_FIRST_ATTEMPT + "): first attempt of tile "
                    + tile.index() + " wrote a wrong block and failed");
        }
    }

    /** On the driver: records a successful task's tiles in the manifest. */
    private static final class RecordGroup extends AbstractFunction2<Object, long[], BoxedUnit> {
        private final ClusterTiles.TileLedger store;
        private final Listener listener;
        private final int[] done;
        private final int total;
        /**
         * The first failure to record or of the listener, rethrown by {@link #compute} as it was (the handler can
         * only stop the job).
         */
        Exception failure;
        /** Set once the job has stopped: results that still arrive are not recorded. */
        private boolean stopped;

        RecordGroup(ClusterTiles.TileLedger store, Listener listener, int[] done, int total) {
            this.store = store;
            this.listener = listener;
            this.done = done;
            this.total = total;
        }

        /** Records nothing more; returns once a record in progress has finished. */
        synchronized void stop() {
            stopped = true;
        }

        @Override
        public synchronized BoxedUnit apply(Object partition, long[] result) {
            if (stopped || failure != null) {
                return BoxedUnit.UNIT; // a task that finished after the job had failed: its tiles stay unrecorded
            }
            int[] tiles = new int[result.length / 2];
            try {
                for (int i = 0; i < tiles.length; i++) {
                    tiles[i] = (int) result[2 * i];
                    store.recordTile(tiles[i], result[2 * i + 1]);
                }
                done[0] += tiles.length;
                if (listener != null) {
                    listener.recorded(tiles, done[0], total);
                }
            } catch (IOException | RuntimeException e) {
                failure = e;
                throw new IllegalStateException("recording tiles " + java.util.Arrays.toString(tiles) + " failed",
                        e);
            }
            return BoxedUnit.UNIT;
        }
    }
}
