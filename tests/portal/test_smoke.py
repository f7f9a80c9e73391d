def test_home_page_links_to_admin(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert b"/admin/" in response.content
