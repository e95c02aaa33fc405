/**
 * The traced tensor API: symbolic {@link org.ntk4j.graph.Var}s, typed graphs of primitive equations with static shapes,
 * their evaluator, printer and cost counts.
 */
package org.ntk4j.graph;
