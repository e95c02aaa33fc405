package org.ntk4j.spark;

import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.SparkContext;
import org.apache.spark.status.api.v1.ExecutorSummary;

/**
 * What the driver knows of its executors: their cores, as they registered (Spark's status store, which the web UI
 * reads too), and waiting for them. In local mode the one executor is the driver, with local[k]'s k cores.
 */
final class ClusterExecutors {
    /** Once an executor has registered, how long no other may register before the others are taken to be in. */
    static final long SETTLE_MS = 2_000;
    /** The longest wait for further executors once one has registered. */
    static final long MORE_MS = 15_000;

    private ClusterExecutors() {
    }

    /**
     * The executors registered now and their cores.
     *
     * @param sc the context
     * @return executor id → cores, sorted by id; empty while none has registered (or when Spark does not say)
     */
    static Map<String, Integer> cores(SparkContext sc) {
        Map<String, Integer> cores = new TreeMap<>();
        try {
            for (ExecutorSummary e : scala.jdk.javaapi.CollectionConverters.asJava(sc.statusStore()
                    .executorList(true))) {
                if (e.totalCores() > 0) { // a cluster's driver is listed with no cores
                    cores.put(e.id(), e.totalCores());
                }
            }
        } catch (RuntimeException | LinkageError e) {
            // the status store is Spark's own API: without it the caller falls back to Spark's parallelism
        }
        return cores;
    }

    /**
     * Waits until the executors have registered: the first one (however long the cluster takes to give the
     * application its resources, as Spark's own jobs wait), then, on a cluster, others until none has come for
     * {@link #SETTLE_MS} (at most {@link #MORE_MS}). Returns at once under dynamic allocation, whose executors
     * come only for a job's tasks.
     *
     * @param sc the context
     * @param master the master as given, for the message
     * @return the executors and their cores ({@link #cores}); empty under dynamic allocation
     * @throws IOException if Spark stops the context meanwhile (no master answered, or it refused the
     *     application), or the thread is interrupted
     */
    static Map<String, Integer> await(SparkContext sc, String master) throws IOException {
        if (sc.conf().getBoolean("spark.dynamicAllocation.enabled", false)) {
            return cores(sc);
        }
        long first = 0;
        long changed = 0;
        Map<String, Integer> seen = Map.of();
        while (true) {
            if (sc.isStopped()) {
                throw new IOException("--spark " + master + ": Spark stopped the application before any executor "
                        + "registered (no master answered, or the master refused it; Spark gives up after about "
                        + "60 s): check the master's URL and that it is running");
            }
            long now = System.nanoTime();
            Map<String, Integer> current = cores(sc);
            if (!current.equals(seen)) {
                if (seen.isEmpty()) {
                    first = now;
                }
                seen = current;
                changed = now;
            }
            if (!seen.isEmpty() && (sc.isLocal() || now - changed >= SETTLE_MS * 1_000_000L
                    || now - first >= MORE_MS * 1_000_000L)) {
                return seen;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("--spark " + master + ": interrupted while waiting for executors", e);
            }
        }
    }
}
