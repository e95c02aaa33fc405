/**
 * Studies of the empirical NTK through training: {@link org.ntk4j.study.TrainingStudy} measures, at each
 * checkpoint of networks of several widths, how well the N×N kernel kinds (the pNTK first) approximate the full
 * eNTK and how far the eNTK has moved since initialisation.
 */
package org.ntk4j.study;
