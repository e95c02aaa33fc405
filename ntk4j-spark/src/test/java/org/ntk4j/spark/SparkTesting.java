package org.ntk4j.spark;

import org.apache.spark.SparkConf;

/** Spark settings shared by the tests: on 127.0.0.1, no web UI, small. */
final class SparkTesting {
    private SparkTesting() {
    }

    /** local[cores, maxFailures]: maxFailures > 1 lets a failed task be retried as on a cluster. */
    static SparkConf localConf(int cores, int maxFailures) {
        return quiet(new SparkConf().setMaster("local[" + cores + "," + maxFailures + "]"));
    }

    static SparkConf quiet(SparkConf conf) {
        return conf.set("spark.ui.enabled", "false")
                .set("spark.driver.host", "127.0.0.1")
                .set("spark.driver.bindAddress", "127.0.0.1")
                .set("spark.sql.shuffle.partitions", "2");
    }
}
