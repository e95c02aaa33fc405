/**
 * Kernels computed tile by tile on Apache Spark ({@link org.ntk4j.spark.SparkKernelJob}), and kernel files read as
 * MLlib block matrices ({@link org.ntk4j.spark.KernelBlockMatrix}).
 */
package org.ntk4j.spark;
