"""The desk: small web pages (进度, 统计表, 材料, a progress picture) served beside the chat transports."""
