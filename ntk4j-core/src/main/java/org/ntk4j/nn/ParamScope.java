package org.ntk4j.nn;

import java.util.List;
import java.util.Map;
import org.ntk4j.graph.Var;

/**
 * What a layer sees of the parameters: its own ones by short name, under its path prefix. The same scope
 * type serves declaration (collecting {@link ParamSpec}s at init) and application (looking up the traced
 * {@link Var} of each parameter), so a layer's names are written once.
 */
public final class ParamScope {
    private final String prefix;
    private final List<ParamSpec> declared;
    private final Map<String, Var> values;

    private ParamScope(String prefix, List<ParamSpec> declared, Map<String, Var> values) {
        this.prefix = prefix;
        this.declared = declared;
        this.values = values;
    }

    /** A root scope that records declarations into {@code sink}. */
    static ParamScope declaring(List<ParamSpec> sink) {
        return new ParamScope("", sink, null);
    }

    /** A root scope that resolves names to traced parameters. */
    static ParamScope applying(Map<String, Var> values) {
        return new ParamScope("", null, values);
    }

    /**
     * The scope of a sub-layer named {@code name}.
     *
     * @param name the sub-layer's path segment, e.g. {@code 0_dense}
     * @return a scope with path prefix {@code prefix + name + "/"}, sharing this scope's declarations or values
     */
    public ParamScope child(String name) {
        return new ParamScope(prefix + name + "/", declared, values);
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
}
