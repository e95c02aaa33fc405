package org.ntk4j.ntk;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.Set;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.Tensor;

/**
 * A service that computes the unfinished tiles of a planned kernel ({@link TilePlan}) on a cluster instead of in
 * this JVM, the cluster's tasks writing the blocks into the run's output file themselves ({@code OUT.partial}) and
 * this JVM recording each tile as its task succeeds. The tiles are the ones {@link TiledKernel} computes locally,
 * bit for bit. Implementations are found with {@link ServiceLoader} ({@link #find()}): the module ntk4j-spark
 * provides the Spark one ({@code META-INF/services/org.ntk4j.ntk.ClusterTiles}), so neither core nor the CLI
 * compiles against a cluster framework.
 *
 * <p>A run uses one instance: {@link #connect} before it creates any file (so a master or setting that cannot work,
 * or a cluster that cannot be reached, fails without leaving files behind), {@link #compute} once, {@link #report}
 * for the run's report, then {@link #close}.
 */
public interface ClusterTiles extends AutoCloseable {
    /**
     * The run's ledger of finished tiles (in ntk4j-io, {@code TileStore}): the plan it writes, the tiles already
     * in the file, and the record of a tile written by another process.
     */
    interface TileLedger {
        /**
         * The plan the run writes.
         *
         * @return the tile grid, kernel shape and dtype
         */
        TilePlan plan();

        /**
         * The tiles recorded as finished so far.
         *
         * @return their indices in the plan, a snapshot
         */
        Set<Integer> finishedTiles();

        /**
         * Records tile {@code index} as finished with the checksum of its bytes in the file.
         *
         * @param index the tile's index in the plan
         * @param crc the CRC-32C of the tile's bytes that its writer computed
         * @throws IOException if the record cannot be written, or the tile was recorded with another checksum
         */
        void recordTile(int index, long crc) throws IOException;

        /**
         * The run's identity that its writers check before they write (a ledger of a run started again meanwhile
         * with other inputs is another run), or null for none (the default: writers check nothing).
         *
         * @return an opaque identity, or null
         */
        default String run() {
            return null;
        }
    }

    /**
     * Computes on the cluster at {@code master} every tile of {@code ledger.plan()} that {@code ledger} has not
     * finished, the cluster's tasks writing the blocks into {@code OUT.partial} at {@code out} (a path they all
     * reach), and records each tile in {@code ledger} as the task that computed it succeeds, telling
     * {@code progress}. Does not finish the run.
     *
     * @param master the cluster's master URL (for Spark {@code local[k]}, {@code spark://host:port}, ...), or empty
     *     for the one the environment configured (spark-submit's)
     * @param modelSpec the model's spec, which the tasks parse to rebuild it
     * @param params the parameters, shipped to the tasks
     * @param x1 the first inputs, shipped to the tasks
     * @param x2 null when x2 = x1
     * @param ledger the run's ledger (its output store); its finished tiles are not recomputed
     * @param out the final kernel file; {@code OUT.partial} beside it must be reachable from every task
     * @param progress told of each tile as its task succeeds; may be null
     * @param log where to say what the cluster did (one or two lines)
     * @throws IOException when recording a tile fails or the job fails (the message names the cause)
     */
    void compute(String master, String modelSpec, Params params, Tensor x1, Tensor x2, TileLedger ledger, Path out,
                 TiledKernel.Listener progress, PrintWriter log) throws IOException;

    /**
     * Checks {@code master} and the service's settings and connects to the cluster, before the run creates any
     * file; {@link #compute} then uses the connection (given the same master), and {@link #close} ends it. The
     * default checks nothing: {@link #compute} connects by itself.
     *
     * @param master as for {@link #compute}
     * @param log where to say what the connection waits for (a line at most, while it waits)
     * @throws IOException if the cluster cannot be reached or gives up on the application
     * @throws IllegalArgumentException if the master or a setting is invalid, or the cluster refuses the settings
     */
    default void connect(String master, PrintWriter log) throws IOException {
    }

    /**
     * What the last {@link #compute} did on the cluster, for the run's report: field names (a prefix of the
     * service's, e.g. {@code spark_}) and values (String, Number, Boolean or int[]), in order.
     *
     * @return the fields; empty by default and before a run
     */
    default Map<String, Object> report() {
        return Map.of();
    }

    /** Ends the connection that {@link #connect} made, if any; the default holds none. */
    @Override
    default void close() {
    }

    /**
     * The implementation on the class path, if any.
     *
     * @return the first implementation {@link ServiceLoader} finds, or empty when none is on the class path
     */
    static Optional<ClusterTiles> find() {
        Iterator<ClusterTiles> it = ServiceLoader.load(ClusterTiles.class).iterator();
        return it.hasNext() ? Optional.of(it.next()) : Optional.empty();
    }
}
