package org.ntk4j.spark;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
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
 * <p>Settings: any {@code spark.*} system property (e.g. {@code -Dspark.executor.memory=4g} in
 * {@code NTK4J_JAVA_OPTS}, or spark-submit's {@code --conf}) applies. For a {@code spark://} master started from
 * the launcher, the executors get ntk4j's classes from the job jar named by the system property
 * {@code ntk4j.spark.jobJar} (the launcher sets it), unless {@code spark.jars} is set. For {@code local[k]} the
 * web UI is off unless {@code spark.ui.enabled} says otherwise.
 */
public final class SparkClusterTiles implements ClusterTiles {
    /** System property: the job jar shipped to executors when the driver is not spark-submit's. */
    public static final String JOB_JAR = "ntk4j.spark.jobJar";

    @Override
    public void compute(String master, String modelSpec, Params params, Tensor x1, Tensor x2, TileLedger store,
                        Path out, TiledKernel.Listener progress, PrintWriter log) throws IOException {
        SparkConf conf = new SparkConf().setAppName("ntk4j kernel " + out.getFileName());
        if (master != null && !master.isEmpty()) {
            conf.setMaster(master);
        } else if (!conf.contains("spark.master")) {
            throw new IllegalArgumentException("--spark: give a master URL (local[k], spark://host:port), or run "
                    + "under spark-submit, which sets one");
        }
        String m = conf.get("spark.master");
        if (m.startsWith("local") && !conf.contains("spark.ui.enabled")) {
            conf.set("spark.ui.enabled", "false");
        }
        if (m.startsWith("local") && !conf.contains("spark.task.maxFailures") && !m.contains(",")) {
            // local[k] gives a failed task no second attempt by default; a cluster gives it four
            conf.set("spark.task.maxFailures", "4");
        }
        String jar = System.getProperty(JOB_JAR);
        if (!m.startsWith("local") && !conf.contains("spark.jars") && jar != null) {
            if (!Files.isRegularFile(Path.of(jar))) {
                throw new IOException("--spark: the job jar " + jar + " does not exist; build it with "
                        + "mvn -pl ntk4j-spark-job -am package -DskipTests");
            }
            conf.set("spark.jars", jar);
        }
        TilePlan plan = store.plan();
        try (JavaSparkContext sc = new JavaSparkContext(conf)) {
            SparkKernelJob.Summary s = SparkKernelJob.compute(sc, modelSpec, params, x1, x2, store, out,
                    (tiles, done, total) -> {
                        if (progress != null) {
                            for (int t : tiles) {
                                progress.tileDone(plan.tile(t), 0);
                            }
                        }
                    });
            int executors = executors(sc);
            log.printf(Locale.ROOT, "spark %s: %d tiles in %d tasks on %d executor%s, %.3f s%n", m,
                    s.tilesComputed(), s.tasks(), executors, executors == 1 ? "" : "s", s.seconds());
            log.flush();
        }
    }

    /** Executors known to the driver (in local mode the driver itself). */
    private static int executors(JavaSparkContext sc) {
        int n = sc.sc().statusTracker().getExecutorInfos().length;
        return sc.sc().isLocal() ? n : Math.max(0, n - 1);
    }
}
