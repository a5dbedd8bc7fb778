"""The Prefect artifacts a flow run published, read back by the flow tests."""

from __future__ import annotations


def read_latest_artifacts(keys: list[str]) -> dict[str, str]:
    """The data of the latest Prefect artifact under each key (the last run's tables), by key."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey

    with get_client(sync_client=True) as client:
        latest = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=keys))
        )
    return {artifact.key: str(artifact.data) for artifact in latest}
