package org.ntk4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.ServiceLoader;
import org.ntk4j.io.TileStore;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.TiledKernel;
import org.ntk4j.tensor.Tensor;

/**
 * Computes the unfinished tiles of a planned kernel on a cluster instead of in this JVM
 * ({@code ntk4j kernel --out OUT --spark MASTER}). The implementation is found with {@link ServiceLoader}: the
 * module ntk4j-spark provides the Spark one, and the launcher puts it and Spark on the class path only when
 * {@code --spark} is given, so the CLI neither compiles against Spark nor loads it otherwise.
 */
public interface ClusterTiles {
    /**
     * Computes on the cluster at {@code master} every tile of {@code store.plan()} that {@code store} has not
     * finished, the executors writing the blocks into {@code OUT.partial} at {@code out} (a path they all reach),
     * and records each tile in {@code store} as the task that computed it succeeds, telling {@code progress}.
     * Does not finish the store.
     *
     * @param master a Spark master URL ({@code local[k]}, {@code spark://host:port}, ...), or empty for the one
     *     {@code spark-submit} configured
     * @param modelSpec the model's spec, which the executors parse to rebuild it
     * @param params the parameters, shipped to the executors
     * @param x1 the first inputs, shipped to the executors
     * @param x2 null when x2 = x1
     * @param store the run's output store (manifest and plan); its recorded tiles are not recomputed
     * @param out the final kernel file; {@code OUT.partial} beside it must be reachable from every executor
     * @param progress told of each tile as its task succeeds; may be null
     * @param log where to say what the cluster did (one or two lines)
     * @throws IOException when recording a tile fails or the job fails (the message names the cause)
     */
    void compute(String master, String modelSpec, Params params, Tensor x1, Tensor x2, TileStore store, Path out,
                 TiledKernel.Listener progress, PrintWriter log) throws IOException;

    /**
     * The implementation on the class path.
     *
     * @return the first implementation {@link ServiceLoader} finds
     * @throws IllegalArgumentException when ntk4j-spark is not on the class path (the message says how to add it)
     */
    static ClusterTiles find() {
        Iterator<ClusterTiles> it = ServiceLoader.load(ClusterTiles.class).iterator();
        if (!it.hasNext()) {
            throw new IllegalArgumentException("--spark: ntk4j-spark is not on the class path; run through the "
                    + "./ntk4j launcher (which adds it and Spark) or spark-submit the job jar "
                    + "ntk4j-spark/target/ntk4j-spark-*-job.jar");
        }
        return it.next();
    }
}
