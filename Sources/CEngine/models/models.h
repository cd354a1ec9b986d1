/* The engine's models, one line each: NM_MODEL(NAME) registers the descriptor nm_model_NAME of
 * models/NAME.c (the Swift side registers the same names in Sources/SNN/Models/NeuronModels.swift). */
NM_MODEL(if)
NM_MODEL(lif_exp)
NM_MODEL(lif_cond_exp)
NM_MODEL(lif_alpha)
NM_MODEL(lif_delta)
NM_MODEL(izhikevich)
NM_MODEL(adex)
NM_MODEL(hh)
NM_MODEL(poisson)
NM_MODEL(spike_source)
