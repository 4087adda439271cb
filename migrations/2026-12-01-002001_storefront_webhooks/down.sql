DROP TABLE webhook_secrets;
DROP TABLE storefront_skus;
DROP TABLE webhook_deliveries;
