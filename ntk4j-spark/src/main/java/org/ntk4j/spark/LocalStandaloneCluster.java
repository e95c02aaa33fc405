package org.ntk4j.spark;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Spark standalone cluster on 127.0.0.1 made of separate JVMs: one
 * {@code org.apache.spark.deploy.master.Master} and {@code n} {@code org.apache.spark.deploy.worker.Worker}s, each
 * started with {@code java -cp} on a given class path (this JVM's by default, which holds Spark's jars when it runs
 * from the launcher or from Maven). The workers start executors as further JVMs on the same class path
 * ({@link #applyTo} sets {@code spark.executor.extraClassPath}), so the cluster needs no Spark distribution.
 *
 * <p>For tests and for the scaling benchmark; a real cluster is started with Spark's own scripts. Every JVM started
 * here, executors included, is stopped by {@link #close()}, which a shutdown hook also runs if this JVM exits first.
 * The master binds an ephemeral port that is read back from its log (no race for a "free" port); web UIs bind
 * ephemeral ports too.
 */
public final class LocalStandaloneCluster implements AutoCloseable {
    private static final Pattern MASTER_URL = Pattern.compile("Starting Spark master at (spark://\\S+)");
    private static final String WORKER_REGISTERED = "Successfully registered with master";
    private static final long START_TIMEOUT_MS = 120_000;

    private final Path dir;
    private final String classPath;
    private final String daemonHeap;
    private final Process master;
    private final String masterUrl;
    private final List<Process> workers = new ArrayList<>();
    private final Thread shutdownHook;
    private boolean closed;

    private LocalStandaloneCluster(Path dir, String classPath, String daemonHeap) throws IOException {
        this.dir = dir;
        this.classPath = classPath;
        this.daemonHeap = daemonHeap;
        Files.createDirectories(dir.resolve("spark-home").resolve("jars"));
        // the daemons' own logging (INFO, to their log files): readiness is read from it, whatever logging
        // configuration the class path carries
        Files.writeString(dir.resolve("daemon-log4j2.properties"), String.join("\n",
                "rootLogger.level = info", "rootLogger.appenderRef.out.ref = out", "appender.out.type = Console",
                "appender.out.name = out", "appender.out.layout.type = PatternLayout",
                "appender.out.layout.pattern = %d{HH:mm:ss.SSS} %p %c{1}: %m%n", ""), StandardCharsets.UTF_8);
        this.shutdownHook = new Thread(this::stopAll, "ntk4j-local-cluster-stop");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
        Process m = null;
        String url;
        try {
            Path log = dir.resolve("master.log");
            m = launch("org.apache.spark.deploy.master.Master", log,
                    "--host", "127.0.0.1", "--port", "0", "--webui-port", "0");
            url = awaitLog(m, log, MASTER_URL, "master");
        } catch (IOException | RuntimeException e) {
            if (m != null) {
                destroyTree(m);
            }
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
            throw e;
        }
        this.master = m;
        this.masterUrl = url;
    }

    /**
     * Starts a master and {@code workers} workers of {@code coresPerWorker} cores and {@code workerMemory} (e.g.
     * "1g") for executors each, logging under {@code dir}. The daemons run on this JVM's class path with a 256 MiB
     * heap.
     *
     * @param dir the directory for logs and work directories, created if missing
     * @param workers the number of workers, at least 1
     * @param coresPerWorker cores each worker offers, at least 1
     * @param workerMemory memory each worker offers to executors, in Spark's notation ("1g")
     * @return the running cluster, which the caller closes
     * @throws IllegalArgumentException if there is no worker or no core
     * @throws IOException if a JVM cannot be started, exits, or is not ready within 2 minutes; whatever was
     *     started is then stopped
     */
    public static LocalStandaloneCluster start(Path dir, int workers, int coresPerWorker, String workerMemory)
            throws IOException {
        return start(dir, workers, coresPerWorker, workerMemory, System.getProperty("java.class.path"), "256m");
    }

    /**
     * {@link #start(Path, int, int, String)} with an explicit class path and heap for the master and workers.
     *
     * @param dir the directory for logs and work directories, created if missing
     * @param workers the number of workers, at least 1
     * @param coresPerWorker cores each worker offers, at least 1
     * @param workerMemory memory each worker offers to executors, in Spark's notation ("1g")
     * @param classPath the class path of the master, the workers and the executors, which must hold Spark's jars
     *     (relative entries are made absolute)
     * @param daemonHeap the master's and each worker's heap, as {@code -Xmx} takes it ("256m")
     * @return the running cluster, which the caller closes
     * @throws IllegalArgumentException if there is no worker or no core
     * @throws IOException if a JVM cannot be started, exits, or is not ready within 2 minutes; whatever was
     *     started is then stopped
     */
    public static LocalStandaloneCluster start(Path dir, int workers, int coresPerWorker, String workerMemory,
            String classPath, String daemonHeap) throws IOException {
        if (workers < 1 || coresPerWorker < 1) {
            throw new IllegalArgumentException("cluster: expected at least one worker with one core, got "
                    + workers + " workers of " + coresPerWorker + " cores");
        }
        LocalStandaloneCluster c = new LocalStandaloneCluster(dir, absolute(classPath), daemonHeap);
        try {
            for (int i = 0; i < workers; i++) {
                c.addWorker(coresPerWorker, workerMemory);
            }
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
        return c;
    }

    /**
     * Starts one more worker and waits until the master has registered it.
     *
     * @param cores cores the worker offers
     * @param memory memory the worker offers to executors, in Spark's notation ("1g")
     * @return the worker's index, for {@link #killWorker} and {@link #workerLaunchedExecutor}
     * @throws IOException if the worker cannot be started, exits, or is not registered within 2 minutes (it then
     *     still counts, and is stopped by {@link #close()})
     */
    public synchronized int addWorker(int cores, String memory) throws IOException {
        int i = workers.size();
        Path log = dir.resolve("worker-" + i + ".log");
        Path work = dir.resolve("worker-" + i);
        Files.createDirectories(work);
        Process w = launch("org.apache.spark.deploy.worker.Worker", log, "--host", "127.0.0.1",
                "--cores", Integer.toString(cores), "--memory", memory, "--webui-port", "0",
                "--work-dir", work.toString(), masterUrl);
        workers.add(w);
        awaitLog(w, log, Pattern.compile(Pattern.quote(WORKER_REGISTERED)), "worker " + i);
        return i;
    }

    /**
     * The master's URL.
     *
     * @return spark://127.0.0.1:PORT
     */
    public String masterUrl() {
        return masterUrl;
    }

    /**
     * The number of workers started.
     *
     * @return workers started, killed ones included
     */
    public synchronized int workerCount() {
        return workers.size();
    }

    /**
     * Kills worker {@code i} and the executors it started with SIGKILL, as if its machine had been lost: the
     * driver sees its executor disappear and Spark reschedules the executor's unfinished tasks elsewhere. Waits up
     * to 30 seconds per process for it to exit.
     *
     * @param i the worker's index, as {@link #addWorker} returned it
     * @throws IndexOutOfBoundsException if there is no worker {@code i}
     */
    public synchronized void killWorker(int i) {
        Process w = workers.get(i);
        List<ProcessHandle> tree = new ArrayList<>();
        w.toHandle().descendants().forEach(tree::add);
        tree.add(w.toHandle());
        for (ProcessHandle h : tree) {
            h.destroyForcibly();
        }
        for (ProcessHandle h : tree) {
            h.onExit().orTimeout(30, TimeUnit.SECONDS).exceptionally(t -> null).join();
        }
    }

    /**
     * Whether worker {@code i} launched a given executor.
     *
     * @param i the worker's index
     * @param executorId the executor's id, as Spark numbers them ("0")
     * @return true when worker {@code i}'s log says it launched executor {@code executorId} (of any application)
     * @throws java.io.UncheckedIOException if the worker's log cannot be read
     */
    public boolean workerLaunchedExecutor(int i, String executorId) {
        try {
            String log = Files.readString(dir.resolve("worker-" + i + ".log"), StandardCharsets.UTF_8);
            return Pattern.compile("Asked to launch executor \\S+/" + Pattern.quote(executorId) + " ").matcher(log)
                    .find();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * Sets what a driver needs to use this cluster: the master, executors on this cluster's class path, the driver
     * reachable on 127.0.0.1 and no web UI.
     *
     * @param conf the driver's configuration, modified
     * @return {@code conf}, for chaining
     */

    public org.apache.spark.SparkConf applyTo(org.apache.spark.SparkConf conf) {
        return conf.setMaster(masterUrl)
                .set("spark.executor.extraClassPath", classPath)
                .set("spark.driver.host", "127.0.0.1")
                .set("spark.driver.bindAddress", "127.0.0.1")
                .set("spark.ui.enabled", "false");
    }

    /** Stops the workers (and so their executors), then the master, waiting for each JVM to exit. */
    @Override
    public void close() {
        stopAll();
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // the JVM is already shutting down: the hook is running or has run
        }
    }

    private synchronized void stopAll() {
        if (closed) {
            return;
        }
        closed = true;
        for (Process w : workers) {
            destroyTree(w);
        }
        if (master != null) {
            destroyTree(master);
        }
    }

    /** SIGTERM to the process and its descendants, then SIGKILL to whatever has not exited after 10 s. */
    private static void destroyTree(Process p) {
        List<ProcessHandle> tree = new ArrayList<>();
        p.toHandle().descendants().forEach(tree::add);
        tree.add(p.toHandle());
        for (ProcessHandle h : tree) {
            h.destroy();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (ProcessHandle h : tree) {
            long left = Math.max(1, deadline - System.nanoTime());
            try {
                h.onExit().get(left, TimeUnit.NANOSECONDS);
            } catch (Exception e) {
                h.destroyForcibly();
            }
        }
        for (ProcessHandle h : tree) {
            h.onExit().orTimeout(10, TimeUnit.SECONDS).exceptionally(t -> null).join();
        }
    }

    private Process launch(String mainClass, Path log, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx" + daemonHeap);
        cmd.add("-Dlog4j2.configurationFile=" + dir.resolve("daemon-log4j2.properties"));
        cmd.add("-cp");
        cmd.add(classPath);
        cmd.add(mainClass);
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(log.toFile()).directory(dir.toFile());
        Map<String, String> env = pb.environment();
        env.put("SPARK_LOCAL_IP", "127.0.0.1");
        // The worker builds executor command lines from SPARK_HOME/jars (empty here) plus the application's
        // spark.executor.extraClassPath; without the folder it refuses to start executors.
        env.put("SPARK_HOME", dir.resolve("spark-home").toString());
        env.put("SPARK_SCALA_VERSION", "2.13");
        env.remove("SPARK_CONF_DIR");
        return pb.start();
    }

    /** Waits until {@code log} has a line matching {@code pattern}; returns group 1 if any, else the match. */
    private static String awaitLog(Process p, Path log, Pattern pattern, String what) throws IOException {
        long deadline = System.currentTimeMillis() + START_TIMEOUT_MS;
        while (true) {
            String text = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
            Matcher m = pattern.matcher(text);
            if (m.find()) {
                return m.groupCount() >= 1 ? m.group(1) : m.group();
            }
            if (!p.isAlive()) {
                throw new IOException(String.format(Locale.ROOT, "cluster: the %s exited with code %d before it "
                        + "was ready; see %s", what, p.exitValue(), log));
            }
            if (System.currentTimeMillis() > deadline) {
                throw new IOException("cluster: the " + what + " was not ready after " + START_TIMEOUT_MS / 1000
                        + " s; see " + log);
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("cluster: interrupted while waiting for the " + what, e);
            }
        }
    }

    /** Class path entries made absolute: executors run in their own work folders. */
    private static String absolute(String classPath) {
        StringBuilder sb = new StringBuilder();
        for (String e : classPath.split(java.io.File.pathSeparator)) {
            if (e.isEmpty()) {
                continue;
            }
            if (sb.length() > 0) {
                sb.append(java.io.File.pathSeparatorChar);
            }
            sb.append(e.endsWith("*") ? e : Path.of(e).toAbsolutePath().normalize().toString());
        }
        return sb.toString();
    }
}
