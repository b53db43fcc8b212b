async def test_openapi_document_lists_the_api(client):
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    paths = (await response.get_json())["paths"]
    assert "/api/v1/polls/{poll_id}/votes" in paths
