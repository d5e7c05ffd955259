"""The WeChat Official Account (公众号) channel: WeChat's callback protocol in front of the chat gateway.

- accounts.py    the configured accounts (and the demo one), OpenID → chat session id
- protocol.py    signatures, AES (compatible / safe mode), XML in and out: all wechatpy
- formatting.py  chat messages → plain WeChat text (citations as 【依据】 lines, buttons as numbered options)
- client.py      WeChat's API through wechatpy: access token cached in Redis (one refresher), 客服消息, menu
- channel.py     one callback: deduplication by MsgId, the 5-second rule, delivery, operator replies
- menu.py        the menu's CLICK keys and pushing deploy/wechat/menu.json
- fake_server.py a faithful fake of WeChat's API for the tests and local demos
- cli.py         `minsheng wechat menu-push | fake-api | sign | simulate`

docs/wechat.md explains configuring an account.
"""
