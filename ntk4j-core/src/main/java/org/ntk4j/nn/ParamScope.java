package org.ntk4j.nn;

import java.util.List;
import java.util.Map;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Tensor;

/**
 * What a layer sees of the parameters: its own ones by short name, under its path prefix. The same scope
 * type serves declaration (collecting {@link ParamSpec}s at init) and application (looking up the traced
 * {@link Var} of each parameter), so a layer's names are written once.
 *
 * <p>Besides parameters a layer may declare <em>buffers</em> (PyTorch's word): constants of the network, such as
 * an inference-mode batch norm's running mean and variance, that are part of the model but are not
 * differentiated. While tracing, a buffer is a graph constant holding the model's value for it
 * ({@link Model#withBuffers}).
 */
public final class ParamScope {
    private final String prefix;
    private final List<ParamSpec> declared;
    private final Map<String, Var> values;
    private final List<ParamSpec> declaredBuffers;
    private final Map<String, Tensor> bufferValues;
    /** Where batch norms traced in training mode record their batch statistics; null otherwise. */
    private final List<BatchStatistics> batchStatistics;

    private ParamScope(String prefix, List<ParamSpec> declared, Map<String, Var> values,
                       List<ParamSpec> declaredBuffers, Map<String, Tensor> bufferValues,
                       List<BatchStatistics> batchStatistics) {
        this.prefix = prefix;
        this.declared = declared;
        this.values = values;
        this.declaredBuffers = declaredBuffers;
        this.bufferValues = bufferValues;
        this.batchStatistics = batchStatistics;
    }

    /** A root scope that records parameter declarations into {@code sink} and buffer declarations into
     * {@code bufferSink}. */
    static ParamScope declaring(List<ParamSpec> sink, List<ParamSpec> bufferSink) {
        return new ParamScope("", sink, null, bufferSink, null, null);
    }

    /** A root scope that resolves names to traced parameters and buffers to constants of these values. */
    static ParamScope applying(Map<String, Var> values, Map<String, Tensor> buffers) {
        return new ParamScope("", null, values, null, buffers, null);
    }

    /**
     * A root scope as {@link #applying}, in which the inference-mode batch norms normalise by the batch's statistics
     * and record them into {@code statistics} (training mode).
     */
    static ParamScope applyingTraining(Map<String, Var> values, Map<String, Tensor> buffers,
            List<BatchStatistics> statistics) {
        return new ParamScope("", null, values, null, buffers, statistics);
    }

    /**
     * The scope of a sub-layer named {@code name}.
     *
     * @param name the sub-layer's path segment, e.g. {@code 0_dense}
     * @return a scope with path prefix {@code prefix + name + "/"}, sharing this scope's declarations or values
     */
    public ParamScope child(String name) {
        return new ParamScope(prefix + name + "/", declared, values, declaredBuffers, bufferValues, batchStatistics);
    }

    /**
     * Full path of a parameter of this scope.
     *
     * @param name the parameter's short name
     * @return this scope's prefix followed by {@code name}
     */
    public String path(String name) {
        return prefix + name;
    }

    /**
     * Whether this scope collects declarations.
     *
     * @return true while collecting declarations (init), false while tracing the forward pass
     */
    public boolean isDeclaring() {
        return declared != null;
    }

    /**
     * Whether this scope traces batch norms in training mode ({@link Model#traceTrainingInto}): a layer with running
     * statistics then normalises by the batch's and {@link #recordBatchStatistics records} them.
     *
     * @return true while tracing a training step with batch norms in training mode
     */
    public boolean isTrainingBatchNorm() {
        return batchStatistics != null;
    }

    /**
     * Records a batch's statistics for the running statistics {@code meanName} and {@code varName} of this scope.
     *
     * @param meanName the running mean buffer's short name
     * @param varName the running variance buffer's short name
     * @param mean the batch mean per channel
     * @param variance the biased batch variance per channel
     * @param count the values per channel the statistics are over
     * @throws IllegalStateException if this scope does not trace in training mode
     */
    public void recordBatchStatistics(String meanName, String varName, Var mean, Var variance, long count) {
        if (batchStatistics == null) {
            throw new IllegalStateException("batch statistics of " + path(meanName) + " outside a training trace");
        }
        batchStatistics.add(new BatchStatistics(path(meanName), path(varName), mean, variance, count));
    }

    /**
     * Declares a parameter initialised as N(mean, std²). No-op while applying.
     *
     * @param name the parameter's short name, unique within this scope
     * @param shape the parameter's shape, copied
     * @param std the standard deviation of the initialisation
     * @param mean the mean of the initialisation
     */
    public void declare(String name, int[] shape, double std, double mean) {
        if (declared != null) {
            declared.add(new ParamSpec(path(name), shape, std, mean));
        }
    }

    /**
     * The traced parameter {@code name} of this scope.
     *
     * @param name the parameter's short name
     * @return the traced parameter
     * @throws IllegalStateException while declaring, or if no parameter of that path was declared
     */
    public Var get(String name) {
        Var v = values == null ? null : values.get(path(name));
        if (v == null) {
            throw new IllegalStateException("parameter " + path(name) + " was not declared");
        }
        return v;
    }

    /**
     * Declares a buffer: a constant of the model, not a parameter (never differentiated), whose default value
     * fills every element. No-op while applying.
     *
     * @param name the buffer's short name, unique within this scope
     * @param shape the buffer's shape, copied
     * @param value the default value of every element (running variance: 1, running mean: 0)
     */
    public void declareBuffer(String name, int[] shape, double value) {
        if (declaredBuffers != null) {
            declaredBuffers.add(new ParamSpec(path(name), shape, 0, value));
        }
    }

    /**
     * The buffer {@code name} of this scope as a constant of the graph that {@code like} belongs to, in
     * {@code like}'s dtype.
     *
     * @param name the buffer's short name
     * @param like a traced value whose graph and dtype the constant gets
     * @return the constant
     * @throws IllegalStateException while declaring, or if no buffer of that path was declared
     */
    public Var buffer(String name, Var like) {
        Tensor t = bufferValues == null ? null : bufferValues.get(path(name));
        if (t == null) {
            throw new IllegalStateException("buffer " + path(name) + " was not declared");
        }
        if (t.dtype() != like.dtype()) {
            throw new IllegalStateException("buffer " + path(name) + " is " + t.dtype().shortName() + ", the graph "
                    + like.dtype().shortName());
        }
        return like.builder().constant(t);
    }
}
