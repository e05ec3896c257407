import pytest

from shared.config import Settings
from shared.storage import StorageClients, azurite_connection_string, storage_endpoints


def test_development_storage_shorthand_means_local_azurite() -> None:
    endpoints = storage_endpoints(Settings.from_mapping({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}))
    assert endpoints.connection_string == azurite_connection_string()
    assert "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1" in (endpoints.connection_string or "")


def test_identity_based_settings_as_the_host_reads_them() -> None:
    settings = Settings.from_mapping({
        "AzureWebJobsStorage__accountName": "stpipelines",
        "AzureWebJobsStorage__queueServiceUri": "https://custom-queue.example.net",
        "AzureWebJobsStorage__clientId": "00000000-0000-0000-0000-000000000001",
    })
    endpoints = storage_endpoints(settings)
    assert endpoints.connection_string is None
    assert endpoints.blob_url == "https://stpipelines.blob.core.windows.net"
    assert endpoints.table_url == "https://stpipelines.table.core.windows.net"
    assert endpoints.queue_url == "https://custom-queue.example.net"
    assert endpoints.client_id == "00000000-0000-0000-0000-000000000001"
    clients = StorageClients(settings)  # builds DefaultAzureCredential clients without calling anything
    assert clients.queue("alerts").url.startswith("https://custom-queue.example.net/alerts")
    assert clients.table("incidents").url.startswith("https://stpipelines.table.core.windows.net")


def test_missing_storage_configuration_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="AzureWebJobsStorage"):
        storage_endpoints(Settings.from_mapping({}))
