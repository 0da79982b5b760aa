"""The storefront returns portal: Shopify's app proxy signature, status links, the page shell."""
