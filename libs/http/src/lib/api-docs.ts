import { applyDecorators } from '@nestjs/common';
import { ApiBadRequestResponse, ApiForbiddenResponse, ApiHeader, ApiNotFoundResponse, ApiSecurity, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { API_KEY_HEADER } from './api-key.guard';
import { ApiErrorDto } from './error.dto';

/** OpenAPI for a controller behind the API key: the security scheme, the header and the shared error body. */
export function ApiKeyProtected() {
  return applyDecorators(
    ApiSecurity('api-key'),
    ApiHeader({ name: API_KEY_HEADER, required: true, description: 'An API key of this API.' }),
    ApiUnauthorizedResponse({ type: ApiErrorDto, description: 'No key or an unknown key.' }),
    ApiForbiddenResponse({ type: ApiErrorDto, description: 'A key of the other API (ingest or query).' }),
    ApiBadRequestResponse({ type: ApiErrorDto, description: 'A bad parameter; details name it.' }),
  );
}

export function ApiNotFound(description: string) {
  return ApiNotFoundResponse({ type: ApiErrorDto, description });
}
