"""``gp eval``: score trained generative models offline with the metrics their family deserves.

Sample-based metrics (Fréchet distance, KID, classifier score, precision/recall, 1-NN
two-sample test) use the penultimate layer of a reference classifier that gp trains once
per dataset (:mod:`gp.eval.classifier`); likelihood, reconstruction, Parzen windows,
GAN-test/GAN-train and toy-mixture mode coverage are chosen by the model's capabilities
and data kind (:mod:`gp.eval.plan`). The protocols and the published numbers they are
compared with are in docs/evaluation.md.
"""
