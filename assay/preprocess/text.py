"""Free text as numbers: simple statistics plus a few latent TF-IDF directions.

Fitted on training rows only and without the target (so it is safe outside the folds), and
its state is plain lists (vocabulary, idf weights, SVD components), so it saves as JSON.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

N_COMPONENTS = 8
MAX_FEATURES = 500


def fit_text(text: pd.Series, seed: int = 0) -> dict:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = _docs(text)
    vectorizer = TfidfVectorizer(max_features=MAX_FEATURES, ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    try:
        tfidf = vectorizer.fit_transform(docs)
    except ValueError:  # no term appears twice: only the statistics are left
        return {"vocabulary": {}, "idf": [], "components": []}
    k = min(N_COMPONENTS, tfidf.shape[1] - 1)
    components = TruncatedSVD(k, random_state=seed).fit(tfidf).components_.tolist() if k >= 1 else []
    vocab = {term: int(i) for term, i in vectorizer.vocabulary_.items()}
    return {"vocabulary": vocab, "idf": vectorizer.idf_.tolist(), "components": components}


def text_features(text: pd.Series, state: dict, name: str) -> dict[str, np.ndarray]:
    docs = _docs(text)
    missing = text.isna().to_numpy()
    out = {
        f"{name}__chars": np.where(missing, np.nan, docs.str.len().to_numpy(dtype=float)),
        f"{name}__words": np.where(missing, np.nan, docs.str.split().str.len().to_numpy(dtype=float)),
    }
    if state["components"]:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(vocabulary=state["vocabulary"], ngram_range=(1, 2), sublinear_tf=True)
        vectorizer.idf_ = np.asarray(state["idf"])
        latent = vectorizer.transform(docs) @ np.asarray(state["components"]).T
        for j in range(latent.shape[1]):
            out[f"{name}__tfidf{j}"] = np.where(missing, np.nan, latent[:, j])
    return out


def _docs(text: pd.Series) -> pd.Series:
    return text.astype(object).where(text.notna(), "").astype(str)
