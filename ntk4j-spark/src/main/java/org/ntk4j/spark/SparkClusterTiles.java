package org.ntk4j.spark;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.bytedeco.javacpp.Pointer;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.ClusterTiles;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.ntk.TiledKernel;
import org.ntk4j.tensor.Tensor;

/**
 * {@code ntk4j kernel --out OUT --spark MASTER}: a Spark context for the run (the master given, or spark-submit's),
 * the tiles computed by {@link SparkKernelJob}, the context stopped. Found by the CLI through
 * {@code META-INF/services/org.ntk4j.ntk.ClusterTiles}.
 *
 * <p>{@link #connect}, before the run creates its files, checks the master and the settings, starts the context
 * (a {@code spark://} master is first tried over TCP, so that an address nobody listens at fails at once rather than
 * after Spark's 60 s of retries) and waits for the executors to register ({@link ClusterExecutors#await}), so
 * that the job's tasks are sized to their cores; a run that cannot start fails there, with one message, and
 * leaves no files.
 *
 * <p>Settings: any {@code spark.*} system property (e.g. {@code -Dspark.executor.memory=4g} in
 * {@code NTK4J_JAVA_OPTS}, or spark-submit's {@code --conf}) applies. For a {@code spark://} master started from
 * the launcher, the executors get ntk4j's classes from the job jar named by the system property
 * {@code ntk4j.spark.jobJar} (the launcher sets it), unless {@code spark.jars} is set. A local master
 * ({@code local}, {@code local[k]}), whose tasks Spark never retries, runs as {@code local[k,F]} with F
 * {@code spark.task.maxFailures} (default 4, a cluster's); {@code local[k,F]} is kept. For local masters the web UI
 * is off unless {@code spark.ui.enabled} says otherwise. The driver's {@code OPENBLAS_CORETYPE} (the launcher sets
 * it on AMD's family 25) goes to the executors ({@code spark.executorEnv.OPENBLAS_CORETYPE}, unless set), so that
 * they compute with the same OpenBLAS kernels, hence the same bits, as a local run.
 */
public final class SparkClusterTiles implements ClusterTiles {
    /** System property: the job jar shipped to executors when the driver is not spark-submit's. */
    public static final String JOB_JAR = "ntk4j.spark.jobJar";
    /** The attempts of a task for a local master unless {@code spark.task.maxFailures} says: a cluster's default. */
    static final int LOCAL_MAX_FAILURES = 4;
    /** The driver's environment variables that decide the executors' bits: passed on to the executors. */
    static final List<String> EXECUTOR_ENV = List.of("OPENBLAS_CORETYPE");
    /**
     * Spark's local masters: {@code local}, {@code local[k]} (k a number or *), which run each task once, and
     * {@code local[k,F]}.
     */
    private static final Pattern LOCAL = Pattern.compile("local(?:\\[([0-9]+|\\*)(\\s*,\\s*[0-9]+)?])?");
    /** After this long connecting, {@link #connect} says that it waits (once). */
    static final long TELL_MS = 10_000;
    /** How long a {@code spark://} master's address is tried. */
    private static final int CONNECT_TIMEOUT_MS = 5_000;

    private final Map<String, String> env;
    /** From {@link #connect} to {@link #close}. */
    private JavaSparkContext sc;
    /** The master as given (spark-submit's when none was). */
    private String master;
    private Map<String, Object> report = Map.of();

    /** The service, as {@link java.util.ServiceLoader} makes it: the driver's environment is this process's. */
    public SparkClusterTiles() {
        this(System.getenv());
    }

    /** The service with {@code env} as the driver's environment (tests). */
    SparkClusterTiles(Map<String, String> env) {
        this.env = env;
    }

    @Override
    public void connect(String given, PrintWriter log) throws IOException {
        if (sc != null) {
            throw new IllegalStateException("spark: connected already");
        }
        SparkConf conf = configure(new SparkConf().setAppName("ntk4j kernel"), given, env,
                System.getProperty(JOB_JAR));
        String m = conf.get("spark.master");
        String shown = given == null || given.isEmpty() ? m : given;
        if (m.startsWith("spark://")) {
            reach(m, shown);
        }
        // a cluster may take a while to accept the application and start its executors: said once, after a while
        Thread teller = new Thread(() -> {
            try {
                Thread.sleep(TELL_MS);
                log.println("ntk4j: spark: waiting for the cluster at " + shown + " to accept the application and "
                        + "start executors");
                log.flush();
            } catch (InterruptedException e) {
                // connected (or failed) in time
            }
        }, "ntk4j-spark-connect");
        teller.setDaemon(true);
        teller.start();
        try {
            JavaSparkContext context = start(conf, shown);
            try {
                ClusterExecutors.await(context.sc(), shown);
            } catch (IOException | RuntimeException e) {
                context.close();
                throw e;
            }
            sc = context;
            master = shown;
        } catch (IOException | RuntimeException e) {
            SparkKernelJob.awaitHaltIfExiting();
            throw e;
        } finally {
            teller.interrupt();
        }
    }

    @Override
    public void compute(String given, String modelSpec, Params params, Tensor x1, Tensor x2, TileLedger store,
                        Path out, TiledKernel.Listener progress, PrintWriter log) throws IOException {
        boolean own = sc == null;
        if (own) {
            connect(given, log);
        }
        try {
            TilePlan plan = store.plan();
            SparkKernelJob.Summary s = SparkKernelJob.compute(sc, modelSpec, params, x1, x2, store, out,
                    (tiles, done, total) -> {
                        if (progress != null) {
                            for (int t : tiles) {
                                progress.tileDone(plan.tile(t), 0);
                            }
                        }
                    });
            Map<String, Integer> executors = s.executorCores();
            int[] cores = executors.values().stream().mapToInt(Integer::intValue).toArray();
            int total = java.util.Arrays.stream(cores).sum();
            log.printf(Locale.ROOT, "spark %s: %d tile%s in %d task%s of at most %d tile%s on %d executor%s (%d "
                            + "core%s), %.3f s%n", master, s.tilesComputed(), s.tilesComputed() == 1 ? "" : "s",
                    s.tasks(), s.tasks() == 1 ? "" : "s", s.tilesPerTask(), s.tilesPerTask() == 1 ? "" : "s",
                    executors.size(), executors.size() == 1 ? "" : "s", total, total == 1 ? "" : "s", s.seconds());
            log.flush();
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("spark_master", master);
            r.put("spark_tasks", s.tasks());
            r.put("spark_tiles_per_task", s.tilesPerTask());
            r.put("spark_executors", executors.size());
            r.put("spark_executor_cores", cores);
            // what a task's memory is checked against: in local mode this JVM's tensor limit, on a cluster the
            // executors' heap (spark.executor.memory, Spark's default 1g), JavaCPP's limit unless set apart
            r.put("spark_executor_memory_bytes", sc.sc().isLocal() ? Pointer.maxBytes()
                    : sc.getConf().getSizeAsBytes("spark.executor.memory", "1g"));
            report = java.util.Collections.unmodifiableMap(r);
        } finally {
            if (own) {
                close();
            }
        }
    }

    @Override
    public Map<String, Object> report() {
        return report;
    }

    /** Stops the context that {@link #connect} started, if any. */
    @Override
    public void close() {
        if (sc != null) {
            JavaSparkContext context = sc;
            sc = null;
            context.close();
        }
    }

    /** The context from {@link #connect} to {@link #close}, else null (tests). */
    JavaSparkContext context() {
        return sc;
    }

    /**
     * The run's Spark configuration: the master ({@code given}, else spark-submit's), local masters with retries
     * and no web UI, the job jar for a cluster, the driver's {@link #EXECUTOR_ENV} for the executors; the job's
     * own settings checked ({@link SparkKernelJob#checkSettings}).
     *
     * @param conf the configuration to complete (it holds the {@code spark.*} system properties)
     * @param given the master given, or null or empty for the environment's (spark-submit's)
     * @param env the driver's environment
     * @param jobJar the job jar for a cluster's executors, or null
     * @return {@code conf}
     * @throws IllegalArgumentException if there is no master, or a setting is not valid
     * @throws IOException if the job jar named does not exist
     */
    static SparkConf configure(SparkConf conf, String given, Map<String, String> env, String jobJar)
            throws IOException {
        if (given != null && !given.isEmpty()) {
            conf.setMaster(given);
        } else if (!conf.contains("spark.master")) {
            throw new IllegalArgumentException("--spark: give a master URL (local[k], spark://host:port), or run "
                    + "under spark-submit, which sets one");
        }
        String m = withRetries(conf.get("spark.master"), conf);
        conf.setMaster(m);
        if (m.startsWith("local") && !conf.contains("spark.ui.enabled")) {
            conf.set("spark.ui.enabled", "false");
        }
        if (!m.startsWith("local") && !conf.contains("spark.jars") && jobJar != null) {
            if (!Files.isRegularFile(Path.of(jobJar))) {
                throw new IOException("--spark: the job jar " + jobJar + " does not exist; build it with "
                        + "mvn -pl ntk4j-spark-job -am package -DskipTests");
            }
            conf.set("spark.jars", jobJar);
        }
        for (String name : EXECUTOR_ENV) {
            String value = env.get(name);
            if (value != null && !value.isEmpty() && !conf.contains("spark.executorEnv." + name)) {
                conf.setExecutorEnv(name, value);
            }
        }
        SparkKernelJob.checkSettings(conf);
        return conf;
    }

    /**
     * {@code local} and {@code local[k]}, which Spark runs with one attempt per task whatever
     * {@code spark.task.maxFailures} says, as {@code local[k,F]} with F that setting (default
     * {@link #LOCAL_MAX_FAILURES}); any other master as it is.
     */
    static String withRetries(String master, SparkConf conf) {
        Matcher m = LOCAL.matcher(master);
        if (!m.matches()) {
            return master;
        }
        if (m.group(1) != null && m.group(1).matches("0+")) {
            throw new IllegalArgumentException("--spark " + master + ": expected at least one thread (local[K] with "
                    + "K at least 1, or local[*])");
        }
        if (m.group(2) != null) {
            return master; // local[k,F]: F attempts, as given
        }
        String failures = conf.get("spark.task.maxFailures", Integer.toString(LOCAL_MAX_FAILURES)).trim();
        int f;
        try {
            f = Integer.parseInt(failures);
        } catch (NumberFormatException e) {
            f = 0;
        }
        if (f < 1) {
            throw new IllegalArgumentException("spark.task.maxFailures: expected a positive number, got '"
                    + failures + "'");
        }
        return "local[" + (m.group(1) == null ? "1" : m.group(1)) + "," + f + "]";
    }

    /** Starts the context; Spark's refusal (a master it cannot parse, a heap too small) as one message. */
    private static JavaSparkContext start(SparkConf conf, String shown) {
        try {
            return new JavaSparkContext(conf);
        } catch (Exception e) { // SparkException arrives undeclared; a heap too small is an IllegalArgumentException
            String all = e.getMessage() == null ? e.toString() : e.getMessage();
            // the first line, without Spark's error class ("[INVALID_DRIVER_MEMORY] ")
            String why = all.lines().findFirst().orElse("").replaceFirst("^\\[[A-Z_.]+] ", "")
                    .replaceFirst("\\.$", "");
            String hint = all.contains("Master URL") ? " (expected local[K], local[K,F] or spark://HOST:PORT)"
                    : all.contains("heap size") ? "; the driver is this JVM: raise its heap with "
                    + "NTK4J_JAVA_OPTS=-Xmx1g (spark-submit: --driver-memory)" : "";
            throw new IllegalArgumentException("--spark " + shown + ": " + why + hint, e);
        }
    }

    /**
     * Tries a {@code spark://} master's addresses (several, comma-separated, for masters with standbys) over TCP.
     *
     * @throws IllegalArgumentException if the URL is not spark://HOST:PORT[,HOST:PORT...]
     * @throws IOException if no address accepts a connection
     */
    static void reach(String url, String shown) throws IOException {
        List<String[]> addresses = new ArrayList<>();
        for (String hostPort : url.substring("spark://".length()).split(",", -1)) {
            int colon = hostPort.lastIndexOf(':');
            String host = colon > 0 ? hostPort.substring(0, colon) : "";
            int port;
            try {
                port = Integer.parseInt(hostPort.substring(colon + 1));
            } catch (NumberFormatException e) {
                port = 0;
            }
            if (host.isEmpty() || port < 1 || port > 65535) {
                throw new IllegalArgumentException("--spark " + shown + ": expected spark://HOST:PORT (several "
                        + "HOST:PORT, comma-separated, for masters with standbys)");
            }
            addresses.add(new String[] {host.startsWith("[") && host.endsWith("]")
                ? host.substring(1, host.length() - 1) : host, Integer.toString(port)});
        }
        IOException last = null;
        for (String[] a : addresses) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(a[0], Integer.parseInt(a[1])), CONNECT_TIMEOUT_MS);
                return;
            } catch (IOException e) {
                last = e;
            }
        }
        String why = last instanceof UnknownHostException ? "unknown host " + last.getMessage()
                : last.getMessage() == null ? last.toString() : last.getMessage();
        throw new IOException("--spark " + shown + ": cannot reach the Spark master (" + why + "); check its URL "
                + "and that it is running", last);
    }
}
